"""layers.py: PyTorch's padding of strided convs (paper 002's and paper 004's PyTorch anchors)."""
import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import layers
from keras_initstudy.models.constnet import build_constnet
from keras_initstudy.models.leakynet import build_leakynet
from keras_initstudy.models.resnet import build_resnet
from keras_initstudy.models.wide_resnet import build_wide_resnet

CIFAR = (32, 32, 3)


def delta(shape, dtype=None):
    """A 3x3 kernel that copies channel c to channel c through its centre tap."""
    kernel = np.zeros(shape, np.float32)
    for c in range(min(shape[2], shape[3])):
        kernel[shape[0] // 2, shape[1] // 2, c, c] = 1.0
    return kernel


class PyTorchPaddingTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(8, 9)
    def test_a_strided_3x3_conv_samples_the_pixels_its_1x1_shortcut_samples(self, size):
        x = np.random.default_rng(0).normal(size=(2, size, size, 3)).astype(np.float32)
        conv = layers.pytorch_padded_conv(3, 3, 2, "conv", use_bias=False, kernel_initializer=delta)
        shortcut = keras.layers.Conv2D(3, 1, strides=2, padding="same", use_bias=False, kernel_initializer=delta)
        self.assertAllEqual(conv(x), x[:, ::2, ::2])
        self.assertAllEqual(shortcut(x), x[:, ::2, ::2])
        keras_same = keras.layers.Conv2D(3, 3, strides=2, padding="same", use_bias=False, kernel_initializer=delta)
        if size % 2 == 0:  # what the models did before: Keras pads (0, 1) and samples the odd pixels
            self.assertAllEqual(keras_same(x), x[:, 1::2, 1::2])

    def test_a_strided_conv_pads_like_torch_an_unstrided_one_is_same(self):
        x = np.random.default_rng(1).normal(size=(1, 7, 7, 2)).astype(np.float32)
        kernel = np.random.default_rng(2).normal(size=(3, 3, 2, 4)).astype(np.float32)
        for stride in (1, 2):
            ours = layers.pytorch_padded_conv(4, 3, stride, f"c{stride}", use_bias=False,
                                              kernel_initializer=keras.initializers.Constant(kernel))(x)
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # torch.nn.Conv2d(padding=1)
            torch_like = tf.nn.conv2d(padded, kernel, strides=stride, padding="VALID")
            self.assertAllClose(ours, torch_like, rtol=1e-6, atol=1e-6)

    @parameterized.named_parameters(
        ("constnet", lambda: build_constnet(CIFAR, 10, widen_factor=1, num_blocks=3)),
        ("leakynet", lambda: build_leakynet(CIFAR, 10, widen_factor=1, num_blocks=3, channel_init="i")),
        ("wide_resnet", lambda: build_wide_resnet(CIFAR, 10, depth=10, widen_factor=1)),
        ("resnet20", lambda: build_resnet(CIFAR, 10, depth=20, width=4)))
    def test_every_strided_3x3_conv_of_the_paper_models_is_padded_one_on_every_side(self, build):
        model = build()
        strided = [l for l in model.layers if isinstance(l, keras.layers.Conv2D) and l.strides == (2, 2)
                   and l.kernel_size == (3, 3)]
        self.assertLen(strided, 2)  # stages 2 and 3 open with one
        for conv, size in zip(strided, (16, 8)):
            pad = model.get_layer(f"{conv.name}_pad")
            self.assertEqual((conv.padding, pad.padding), ("valid", ((1, 1), (1, 1))))
            self.assertIs(conv.input, pad.output)
            self.assertEqual(tuple(conv.output.shape[1:3]), (size, size))


if __name__ == "__main__":
    tf.test.main()
