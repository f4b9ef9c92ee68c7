"""Paper 001: the initialisation schemes, the five models, and the facts the report rests
on: zero weights with zero biases never break symmetry; with random biases the gradient
reaches the layers from the top down."""
import os

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from absl.testing import parameterized
from tensorflow.python.framework import config as tf_config

from keras_initstudy import (config, datasets, initializers, models, rundir, settings, train_runner, training,
                             zero_init)
from keras_initstudy.datasets import base as datasets_base
from tests.class_tempdir import ClassTempDirTestCase

MNIST = datasets_base.DatasetInfo("m", 10, (28, 28, 1), tuple("abcdefghij"))
CIFAR = datasets_base.DatasetInfo("c", 10, (32, 32, 3), tuple("abcdefghij"))


def build(name, info=MNIST, **fields):
    cfg = config.ExperimentConfig().replace(model=name, **fields)
    return models.build(cfg.model, info, cfg.training.seeds)


def count(spec):
    return sum(int(np.prod(v.shape)) for v in spec.model.trainable_weights)


class InitializerTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(((784, 500), None, 784), ((5, 5, 16, 32), None, 400), ((500,), 784, 784),
                              ((32,), 400, 400))
    def test_torch_default_bounds_are_one_over_sqrt_fan_in(self, shape, fan_in, expected_fan_in):
        values = initializers.from_spec("torch_default", seed=3, fan_in=fan_in)(shape).numpy()
        bound = 1 / np.sqrt(expected_fan_in)
        self.assertLessEqual(float(np.abs(values).max()), bound)
        if values.size > 1000:
            self.assertGreater(float(np.abs(values).max()), 0.99 * bound)
            self.assertNear(float(values.std()), bound / np.sqrt(3), 0.03 * bound)

    @parameterized.parameters(("normal", 1.0), ("normal", 0.01), ("uniform", 100.0))
    def test_random_bias(self, distribution, scale):
        init = initializers.from_spec(f"random_bias(distribution={distribution!r}, scale={scale})", seed=5)
        values = init((20000,)).numpy()
        if distribution == "normal":
            self.assertNear(float(values.mean()), 0.0, 0.03 * scale)
            self.assertNear(float(values.std()), scale, 0.03 * scale)
        else:
            self.assertTrue(np.all((values >= 0) & (values < scale)))
            self.assertNear(float(values.mean()), scale / 2, 0.02 * scale)
        again = initializers.RandomBias.from_config(init.get_config())((20000,)).numpy()
        self.assertAllEqual(values, again)
        other = initializers.from_spec(f"random_bias(distribution={distribution!r}, scale={scale})", seed=6)
        self.assertFalse(np.array_equal(values, other((20000,)).numpy()))

    @parameterized.parameters(*zero_init.SCHEMES)
    def test_schemes_on_every_layer(self, scheme):
        spec = build("schicho_cnn_mnist", init_scheme=scheme, bias_scale=0.01)
        for name in spec.kernels:
            layer = spec.model.get_layer(name)
            kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
            self.assertEqual(bool(np.any(kernel)), scheme == "torch_default", name)
            if scheme == "zeros":
                self.assertAllEqual(bias, np.zeros_like(bias))
            elif scheme == "zeros_uniform_bias":
                self.assertTrue(np.all((bias >= 0) & (bias < 0.01)) and bias.std() > 0)
            elif scheme == "zeros_normal_bias":
                self.assertTrue(np.any(bias < 0) and np.any(bias > 0) and float(np.abs(bias).max()) < 0.06)
        biases = [spec.model.get_layer(n).bias.numpy()[:5] for n in spec.kernels]
        if scheme != "zeros":
            self.assertFalse(np.array_equal(biases[0], biases[1]))  # each layer draws with its own seed


class ModelsTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.named_parameters(
        ("logistic", "logistic", MNIST, {}, 7850),
        ("fnn_mnist", "schicho_fnn", MNIST, {}, 397510),
        ("fnn_cifar", "schicho_fnn", CIFAR, dict(fnn_hidden="512,256,128"), 1738890),
        ("cnn_mnist", "schicho_cnn_mnist", MNIST, {}, 264138),  # no pooling: the released code
        ("cnn_mnist_pooled", "schicho_cnn_mnist", MNIST, dict(cnn_pooling=True), 28938),
        ("cnn_cifar", "schicho_cnn_cifar", CIFAR, {}, 5852234),
        ("resnet50", "resnet50", CIFAR, {}, 23547402),
        ("resnet50_without_bn1", "resnet50", CIFAR, dict(resnet50_block_bn1=False), 23539850))
    def test_parameter_counts_match_the_released_pytorch_models(self, name, info, fields, expected):
        spec = build(name, info, **fields)
        self.assertEqual(count(spec), expected)
        self.assertEqual(spec.model(np.zeros((2, *info.input_shape), np.float32)).shape, (2, 10))

    def test_the_mnist_cnn_has_no_pooling_unless_asked(self):
        self.assertEmpty([l for l in build("schicho_cnn_mnist").model.layers
                          if isinstance(l, keras.layers.MaxPooling2D)])
        self.assertLen([l for l in build("schicho_cnn_mnist", cnn_pooling=True).model.layers
                        if isinstance(l, keras.layers.MaxPooling2D)], 2)

    @parameterized.parameters("schicho_cnn_cifar", "resnet50")
    def test_batch_norm_at_test_batch_normalises_test_batches_by_their_own_statistics(self, name):
        """The released code never calls eval(): its test passes use each batch's statistics."""
        running, batch = build(name, CIFAR), build(name, CIFAR, batch_norm_at_test="batch")
        kinds = lambda spec: {type(l).__name__ for l in spec.model.layers if "Normalization" in type(l).__name__}
        self.assertEqual(kinds(running), {"BatchNormalization"})
        self.assertEqual(kinds(batch), {"BatchStatisticsNormalization"})
        x = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
        self.assertAllClose(batch.model(x, training=False), batch.model(x, training=True), rtol=1e-5, atol=1e-6)
        self.assertNotAllClose(running.model(x, training=False), running.model(x, training=True))
        cfg = config.ExperimentConfig().replace(model=name, batch_norm_at_test="batch", batch_size=128)
        self.assertEqual(cfg.model.eval_batch_size(128), 128)
        self.assertIsNone(config.ExperimentConfig().replace(model=name).model.eval_batch_size(128))
        self.assertEqual([len(y) for _, y in training.eval_batches(
            cfg, datasets_base.Split(np.zeros((300, 2), np.float32), np.zeros(300, np.int64)))], [128, 128, 44])

    def test_elu_by_default(self):
        spec = build("schicho_fnn")
        self.assertEqual(spec.model.get_layer("hidden_1_act").activation.__name__, "elu")

    def test_resnet50_as_released_zero_initialises_only_stem_and_output(self):
        spec = build("resnet50", CIFAR, init_scheme="zeros_normal_bias", resnet50_scope="stem_and_output")
        self.assertFalse(np.any(spec.kernel("stem_conv").numpy()))
        self.assertFalse(np.any(spec.kernel("output").numpy()))
        self.assertTrue(np.any(spec.kernel("stage2_block1_conv2").numpy()))
        every = build("resnet50", CIFAR, init_scheme="zeros_normal_bias")
        self.assertFalse(any(np.any(every.kernel(n).numpy()) for n in every.kernels))


class HoldOutTest(tf.test.TestCase):

    def test_a_seeded_disjoint_split_of_the_training_examples(self):
        data = datasets.load("fashion_mnist_mini")
        a, b = datasets.hold_out(data, 0.1, 7), datasets.hold_out(data, 0.1, 7)
        self.assertLen(a.validation, 600)
        self.assertLen(a.train, 5400)
        self.assertAllEqual(a.validation.labels, b.validation.labels)
        self.assertAllEqual(a.validation.images, b.validation.images)
        rows = lambda split: {x.tobytes() for x in split.images.reshape(len(split), -1)}
        self.assertEmpty(rows(a.train) & rows(a.validation))
        self.assertLen(rows(a.train) | rows(a.validation), len(rows(data.train)))
        self.assertFalse(np.array_equal(datasets.hold_out(data, 0.1, 8).validation.labels, a.validation.labels))

    def test_a_count_holds_out_exactly_that_many(self):
        """Issue 25.2: paper 001's code holds out VALIDATION_DATASET_SIZE = 7000 images, not a fraction."""
        data = datasets.load("fashion_mnist_mini")
        self.assertLen(datasets.hold_out(data, 700, 7).validation, 700)
        self.assertLen(datasets.hold_out(data, 700.0, 7).train, 5300)
        self.assertLen(datasets.hold_out(data, 1, 7).validation, 1)
        from keras_initstudy import errors
        with self.assertRaisesRegex(errors.UserError, "--validation_split=6000 holds out 6000 of 6000"):
            datasets.hold_out(data, 6000, 7)
        for good in (0.0, 0.1, 0.5, 1, 7000):
            config.ExperimentConfig().replace(validation_split=good)
        for bad in (0.6, 0.99, 1.5, -1):
            with self.subTest(bad), self.assertRaisesRegex(settings.ConfigError, "fraction in \\[0, 0.5\\] or a whole count"):
                config.ExperimentConfig().replace(validation_split=bad)


class PadTest(tf.test.TestCase):

    def test_pad_to_32_centres_the_images_in_zeros(self):
        data = datasets.hold_out(datasets.load("fashion_mnist_mini"), 0.1, 1)
        padded = datasets.pad_to(data, 32)
        self.assertEqual(padded.info.input_shape, (32, 32, 1))
        for a, b in ((data.train, padded.train), (data.validation, padded.validation), (data.test, padded.test)):
            self.assertEqual(b.images.shape[1:], (32, 32, 1))
            self.assertAllEqual(b.images[:, 2:30, 2:30], a.images)
            self.assertEqual(float(np.abs(b.images[:, :2]).sum() + np.abs(b.images[:, :, 30:]).sum()), 0.0)

    def test_pad_to_needs_room_and_changes_the_run(self):
        from keras_initstudy import errors
        with self.assertRaisesRegex(errors.UserError, "smaller than the 28x28"):
            datasets.pad_to(datasets.load("fashion_mnist_mini"), 20)
        base = config.ExperimentConfig()
        self.assertNotEqual(base.replace(pad_to=32).run_hash(), base.run_hash())
        self.assertEqual(base.replace(pad_to=0).run_hash(), base.run_hash())
        self.assertNotEqual(base.replace(validation_split=0.1).run_hash(), base.run_hash())


class SymmetryTest(ClassTempDirTestCase):
    """Short training runs on the embedded data, deterministic."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        common = dict(output_dir=cls.out, model="schicho_fnn", fnn_hidden="64,32", optimizer="adam",
                      learning_rate=0.001, steps=94, snapshots="0", gradient_steps=5, weight_images=False,
                      correlations=False, rmsd=False, nondeterminism="deterministic")
        cls.zeros = train_runner.run(config.ExperimentConfig().replace(init_scheme="zeros", **common), verbose=0)
        cls.random_bias = train_runner.run(config.ExperimentConfig().replace(init_scheme="zeros_normal_bias",
                                                                           **common), verbose=0)
        tf_config.disable_op_determinism()

    def test_zero_weights_and_biases_never_break_symmetry(self):
        model = keras.models.load_model(os.path.join(self.zeros, "model.keras"))
        for name in ("hidden_1", "hidden_2"):
            kernel, bias = model.get_layer(name).kernel.numpy(), model.get_layer(name).bias.numpy()
            self.assertAllEqual(kernel, np.repeat(kernel[:, :1], kernel.shape[1], axis=1))  # identical units
            self.assertAllEqual(bias, np.full_like(bias, bias[0]))
        history = pd.read_csv(os.path.join(self.zeros, "history.csv"))
        self.assertLessEqual(history["test_accuracy"].iloc[-1], 0.1 + 1e-6)  # the majority class: 100 of 1000

    def test_with_random_biases_gradients_arrive_from_the_top_down(self):
        rows = pd.read_csv(rundir.at(self.random_bias).gradients)
        moving = rows[(rows["max"] != 0) | (rows["min"] != 0)]
        first = moving.groupby("layer")["step"].min().to_dict()
        self.assertEqual(first, {"output": 0, "hidden_2": 1, "hidden_1": 2})
        at_zero = rows[rows["step"] == 0].set_index("layer")
        self.assertEqual(float(at_zero.loc["hidden_1", "max"]), 0.0)
        self.assertEqual(float(at_zero.loc["hidden_1", "min"]), 0.0)
        history = pd.read_csv(os.path.join(self.random_bias, "history.csv"))
        self.assertGreater(history["test_accuracy"].iloc[-1], 0.3)


if __name__ == "__main__":
    tf.test.main()
