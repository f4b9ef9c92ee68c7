"""PaperSGD: PyTorch-style coupled weight decay and simulated rounding noise."""
import keras
import numpy as np
import tensorflow as tf

from keras_initstudy import optimizers


def one_step(optimizer, w0, grad):
    variable = keras.Variable(np.array(w0, dtype=np.float32))
    optimizer.apply([tf.constant(grad, dtype=tf.float32)], [variable])
    return variable.numpy()


class PaperSGDTest(tf.test.TestCase):

    def test_coupled_weight_decay_is_added_to_the_gradient(self):
        w0, g = [1.0, -2.0, 0.5], [0.1, 0.0, -0.3]
        lr, wd, momentum = 0.1, 0.05, 0.9
        w1 = one_step(optimizers.PaperSGD(lr, momentum=momentum, coupled_weight_decay=wd), w0, g)
        expected = np.array(w0) - lr * (np.array(g) + wd * np.array(w0))  # first step: velocity = grad
        self.assertAllClose(w1, expected, rtol=1e-6)

    def test_without_extras_it_is_keras_sgd(self):
        w0, g = [1.0, -2.0], [0.3, 0.7]
        self.assertAllEqual(one_step(optimizers.PaperSGD(0.1), w0, g), one_step(keras.optimizers.SGD(0.1), w0, g))

    def test_gradient_noise_is_rounding_sized_and_unseeded(self):
        rng = np.random.default_rng(0)
        w0 = rng.normal(size=10_000).astype(np.float32)
        g = rng.normal(size=10_000).astype(np.float32)
        plain = one_step(optimizers.PaperSGD(1.0), w0, g)
        noisy = [one_step(optimizers.PaperSGD(1.0, gradient_noise=2.0 ** -24), w0, g) for _ in range(2)]
        self.assertNotAllEqual(noisy[0], noisy[1])  # two runs differ, as on a GPU
        relative = np.abs(noisy[0] - plain) / np.maximum(np.abs(plain), 1e-6)
        self.assertLess(float(np.median(relative)), 1e-6)
        self.assertGreater(int(np.count_nonzero(noisy[0] != plain)), 0)

    def test_config_round_trip(self):
        opt = optimizers.PaperSGD(0.03, momentum=0.9, coupled_weight_decay=5e-4, gradient_noise=1e-7)
        copy = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
        self.assertIsInstance(copy, optimizers.PaperSGD)
        self.assertEqual((copy.coupled_weight_decay, copy.gradient_noise), (5e-4, 1e-7))


if __name__ == "__main__":
    tf.test.main()
