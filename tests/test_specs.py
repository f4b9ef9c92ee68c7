"""The names specs.py accepts without Keras are exactly ones Keras (or the package) builds."""
import inspect

import keras
import tensorflow as tf

from keras_initstudy import initializers, specs, variance_initializers  # noqa: F401 (registers names)


class SpecNamesTest(tf.test.TestCase):

    def test_every_listed_keras_initializer_and_activation_exists(self):
        for name in specs.KERAS_INITIALIZERS:
            self.assertIsNotNone(keras.initializers.get(name), msg=name)
        for name in specs.KERAS_ACTIVATIONS:
            self.assertTrue(callable(keras.activations.get(name)), msg=name)

    def test_the_package_list_is_the_registry(self):
        self.assertEqual(specs.PACKAGE_INITIALIZERS, set(initializers.named().names()))

    def test_the_argument_tables_are_the_signatures(self):
        not_offered = {"self", "seed", "args", "kwargs", "input_axes", "output_axes"}  # seeds: --init_seed
        for name, allowed in specs.INITIALIZER_ARGUMENTS.items():
            with self.subTest(name):
                cls = initializers.initializer_class(name)
                parameters = set(inspect.signature(cls.__init__).parameters) - not_offered
                self.assertEqual(set(allowed), parameters)
                for key, kind in allowed.items():  # every listed string value builds
                    for value in (() if kind == specs.NUMBER else kind):
                        initializers.from_spec(f"{name}({key}={value!r})", seed=0)

    def test_checks(self):
        for good in ("glorot_uniform", "xavier_normal", "random_normal(stddev=0.5)", "kaiming_normal(gain=2.0)"):
            specs.check_initializer(good)
        for bad in ("glorot_unifrom", "random_normal(stdev=0.5)", "zeros(", "x(seed=3)", "kaiming_normal(seed=3)",
                    "random_normal(stddev='a')", "random_normal(stddev=True)", "variance_scaling(mode='fan')",
                    "zeros(value=1)"):
            with self.subTest(bad), self.assertRaises(ValueError):
                specs.check_initializer(bad)
        specs.check_activation("relu")
        specs.check_activation("leaky_relu(negative_slope=0.05)")
        for bad in ("rleu", "tanh(x=1)", "leaky_relu(alpha=0.1)", "leaky_relu(negative_slope='x')"):
            with self.subTest(bad), self.assertRaises(ValueError):
                specs.check_activation(bad)


if __name__ == "__main__":
    tf.test.main()
