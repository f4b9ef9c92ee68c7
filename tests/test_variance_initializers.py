"""Paper 003's eight initializations match Table 1's formulas (and Fig. 4's halves and doubles)."""
import math

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import initializers, variance_initializers

SHAPE = (300, 100)  # LeNet-300-100's hidden-to-hidden kernel: fan_in 300, fan_out 100
XAVIER_BOUND = math.sqrt(6 / 400)
XAVIER_STD = math.sqrt(2 / 400)


class PaperInitializerTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(
        ("xavier_uniform", "uniform", XAVIER_BOUND), ("xavier_normal", "normal", XAVIER_STD),
        ("kaiming_uniform", "uniform", math.sqrt(3 / 300)), ("kaiming_normal", "normal", math.sqrt(1 / 300)),
        ("xavier_uniform_half", "uniform", XAVIER_BOUND / 2), ("xavier_uniform_double", "uniform", 2 * XAVIER_BOUND),
        ("xavier_normal_half", "normal", XAVIER_STD / 2), ("xavier_normal_double", "normal", 2 * XAVIER_STD))
    def test_sample_statistics_match_the_formula(self, name, distribution, size):
        w = initializers.from_spec(name, seed=7)(SHAPE).numpy().astype(np.float64)
        n = w.size
        if distribution == "uniform":
            self.assertLessEqual(np.abs(w).max(), size)
            self.assertGreater(np.abs(w).max(), 0.99 * size)
            self.assertNear(w.std(), size / math.sqrt(3), 4 * size / math.sqrt(3) / math.sqrt(2 * n))
        else:
            self.assertNear(w.std(), size, 4 * size / math.sqrt(2 * n))
            self.assertGreater(np.abs(w).max(), 3.5 * size)  # not truncated (Keras's glorot_normal stops at 2 std)
        self.assertNear(w.mean(), 0.0, 4 * w.std() / math.sqrt(n))

    def test_there_are_eight(self):
        self.assertLen(variance_initializers.PAPER_003, 8)

    def test_xavier_is_wider_than_kaiming_in_every_layer_of_lenet(self):
        """Paper 003's discussion rests on this: with Table 1's formulas (Kaiming gain 1) the
        Xavier densities are wider than the Kaiming ones in every layer of LeNet-300-100."""
        for fan_in, fan_out in ((784, 300), (300, 100), (100, 10)):
            for distribution in ("uniform", "normal"):
                xavier = variance_initializers.Xavier(distribution).scale((fan_in, fan_out))
                kaiming = variance_initializers.Kaiming(distribution).scale((fan_in, fan_out))
                self.assertGreater(xavier, kaiming, (fan_in, fan_out, distribution))

    def test_gain_and_conv_fans(self):
        self.assertNear(initializers.from_spec("kaiming_normal(gain=1.4142135623730951)", seed=0).scale((300, 100)),
                        math.sqrt(2 / 300), 1e-12)  # PyTorch's default gain, as the released code used
        self.assertEqual(variance_initializers.fans((3, 3, 16, 32)), (144, 288))
        self.assertEqual(variance_initializers.fans((5, 4, 6)), (20, 30))  # Conv1D: (width, in, out)
        self.assertEqual(variance_initializers.fans((2, 3, 3, 4, 5)), (72, 90))  # Conv3D

    def test_torch_default_for_kernels_and_biases(self):
        kernel = initializers.from_spec("torch_default", seed=1)((784, 300)).numpy()
        self.assertLessEqual(np.abs(kernel).max(), 1 / 28)
        self.assertGreater(np.abs(kernel).max(), 0.99 / 28)
        bias = initializers.from_spec("torch_default", seed=1, fan_in=784)((300,)).numpy()
        self.assertLessEqual(np.abs(bias).max(), 1 / 28)
        with self.assertRaisesRegex(ValueError, "needs the layer's fan_in"):
            initializers.from_spec("torch_default", seed=1)((300,))


if __name__ == "__main__":
    tf.test.main()
