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
