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

    def test_momentum_across_a_learning_rate_drop_is_pytorchs(self):
        """torch.optim.SGD: v = mu v + g; w -= lr v. Keras: v = mu v - lr g; w += v. Step 2 at
        the dropped rate differs: PyTorch scales the old velocity by the new rate."""
        mu, rates, grads = 0.9, (0.1, 0.01), (np.float32(0.5), np.float32(-0.25))
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay([0], list(rates))
        results = {}
        for form in ("pytorch", "keras"):
            variable = keras.Variable(np.float32(1.0))
            optimizer = optimizers.PaperSGD(schedule, momentum=mu, momentum_form=form)
            for g in grads:
                optimizer.apply([tf.constant(g)], [variable])
            results[form] = float(variable.numpy())
        v1 = grads[0]
        v2 = mu * v1 + grads[1]
        self.assertAllClose(results["pytorch"], 1.0 - rates[0] * v1 - rates[1] * v2, rtol=1e-6)
        keras_v2 = mu * (-rates[0] * v1) - rates[1] * grads[1]
        self.assertAllClose(results["keras"], 1.0 - rates[0] * v1 + keras_v2, rtol=1e-6)
        self.assertGreater(abs(results["pytorch"] - results["keras"]), 1e-3)

    def test_momentum_form_is_checked(self):
        with self.assertRaisesRegex(ValueError, "momentum_form"):
            optimizers.PaperSGD(0.1, momentum=0.9, momentum_form="torch")

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
        self.assertEqual((copy.coupled_weight_decay, copy.gradient_noise, copy.momentum_form),
                         (5e-4, 1e-7, "pytorch"))


class TrainingOptionsTest(tf.test.TestCase):
    """Paper 001's released code: Adam with PyTorch's epsilon, the loss summed over the batch."""

    def test_adam_epsilon_reaches_the_optimizer(self):
        from keras_initstudy import config, training
        cfg = config.TrainingConfig(optimizer="adam", adam_epsilon=1e-8)
        self.assertEqual(training.make_optimizer(cfg).epsilon, 1e-8)
        self.assertEqual(training.make_optimizer(config.TrainingConfig(optimizer="adam")).epsilon, 1e-7)
        with self.assertRaisesRegex(config.ConfigError, "adam_epsilon needs optimizer=adam"):
            config.TrainingConfig(adam_epsilon=1e-8)

    def test_a_summed_loss_is_the_batch_size_times_the_mean(self):
        from keras_initstudy import config, training
        y = np.array([0, 1, 2, 1])
        p = np.random.default_rng(0).dirichlet(np.ones(3), size=4).astype(np.float32)
        (mean, _), (total, _) = (training.loss_and_accuracy(config.TrainingConfig(loss_reduction=r))
                                 for r in ("mean", "sum"))
        self.assertAllClose(float(total(y, p)), 4 * float(mean(y, p)), rtol=1e-6)
        self.assertAllClose(float(mean(y, p)), -np.mean(np.log(p[np.arange(4), y])), rtol=1e-5)


if __name__ == "__main__":
    tf.test.main()
