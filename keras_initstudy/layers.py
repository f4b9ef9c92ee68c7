"""Layers the paper models need that Keras does not have."""
import keras

PACKAGE = "keras_initstudy"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScalarBias(keras.layers.Layer):
    """x + b with one trainable scalar b (zero at init): the input bias of each block of
    the authors' LeakyNet (remodel.py: `conv(x + self.biases[0])`)."""

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")

    def call(self, inputs):
        return inputs + keras.ops.cast(self.bias, inputs.dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class IdleBatchNormalization(keras.layers.BatchNormalization):
    """A batch norm that holds its parameters and passes its input through unchanged.

    The authors' LeakyNet builds a BatchNorm2d in every block but applies it only in the
    odd ones (remodel.py: `if self.phase < 0: out = self.bn(out)`), so the even blocks'
    batch norms count as parameters and never change: PyTorch's SGD skips a parameter
    whose gradient is None, as Keras's optimizers do (LeakyNet silences their warning
    for these layers only)."""

    def call(self, inputs, training=None, mask=None):
        return inputs


def pytorch_padded_conv(filters: int, kernel_size: int, strides: int, name: str, conv_class=None, **kwargs):
    """A Conv2D padded as PyTorch's Conv2d(padding=(k - 1) // 2) pads: on every side.

    Keras's 'same' pads a stride-2 3x3 conv of an even-sized input by (0, 1), so its
    windows centre on odd pixels while a stride-2 1x1 shortcut samples even ones;
    PyTorch pads (1, 1) and both sample even pixels. A strided conv therefore gets an
    explicit ZeroPadding2D and 'valid'; an unstrided one keeps 'same' (it pads (1, 1)
    too, and a 1x1 conv pads nothing either way). Returns a callable x -> conv(pad(x)) so
    builders call it like a layer."""
    conv_class = conv_class or keras.layers.Conv2D
    if strides == 1 or kernel_size == 1:
        return conv_class(filters, kernel_size, strides=strides, padding="same", name=name, **kwargs)
    pad = keras.layers.ZeroPadding2D((kernel_size - 1) // 2, name=f"{name}_pad")
    conv = conv_class(filters, kernel_size, strides=strides, padding="valid", name=name, **kwargs)
    return lambda x: conv(pad(x))


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchStatisticsNormalization(keras.layers.BatchNormalization):
    """A batch norm that normalises by the batch's own statistics in training and in
    evaluation alike: paper 001's released code never calls model.eval(), so its test
    passes run batch norm in training mode. The running averages are still updated (as
    PyTorch updates them in training mode) and never read."""

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=True, mask=mask)
