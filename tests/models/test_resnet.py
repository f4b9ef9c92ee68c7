"""CIFAR ResNet-N as open_lth's: parameter counts, shapes, kernels and initialisation."""
import math

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import config, models, settings
from keras_initstudy.datasets import base as datasets_base
from keras_initstudy.models.resnet import build_resnet


def trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


class ResNetTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters((20, 16, 272474), (110, 16, 1730714))
    def test_trainable_parameters_match_open_lth(self, depth, width, expected):
        self.assertEqual(trainable_count(build_resnet((32, 32, 3), 10, depth, width)), expected)

    @parameterized.parameters(((32, 32, 3),), ((28, 28, 1),))
    def test_shapes(self, shape):
        model = build_resnet(shape, 10)
        out = model(np.zeros((2, *shape), np.float32))
        self.assertEqual(out.shape, (2, 10))
        self.assertAllClose(tf.reduce_sum(out, axis=1), [1.0, 1.0], atol=1e-5)
        self.assertEqual(model.get_layer("stage3_block1_conv1").output.shape[1:3], (math.ceil(shape[0] / 4),) * 2)

    def test_spec_and_initialisation(self):
        info = datasets_base.DatasetInfo("c", 10, (32, 32, 3), tuple("abcdefghij"))
        cfg = config.ExperimentConfig().replace(model="resnet")
        spec = models.build(cfg.model, info, cfg.training.seeds)
        self.assertLen(spec.kernels, 1 + 18 + 2 + 1)  # stem, 9 blocks x 2, 2 shortcuts, output
        self.assertEqual(spec.prunable, spec.kernels)
        kernel = spec.kernel("stage3_block2_conv1").numpy()
        self.assertNear(float(kernel.std()), math.sqrt(2 / (3 * 3 * 64)), 0.05 * math.sqrt(2 / (3 * 3 * 64)))
        self.assertGreater(float(np.abs(kernel).max()), 3.5 * kernel.std())  # not truncated
        gamma = spec.model.get_layer("stage1_block1_bn1").gamma.numpy()
        self.assertTrue(np.all((gamma >= 0) & (gamma < 1)) and gamma.std() > 0.1)
        fixed = config.ExperimentConfig().replace(model="resnet", bn_init="fixed")
        self.assertAllEqual(models.build(fixed.model, info, fixed.training.seeds).model.get_layer(
            "stage1_block1_bn1").gamma.numpy(), np.ones(16, np.float32))

    @parameterized.parameters(((32, 32, 3),), ((28, 28, 1),))
    def test_resnet20_by_name(self, shape):
        info = datasets_base.DatasetInfo("c", 10, shape, tuple("abcdefghij"))
        cfg = config.ExperimentConfig().replace(model="resnet20")
        model = models.build(cfg.model, info, cfg.training.seeds).model
        self.assertEqual(trainable_count(model), 272474 if shape[-1] == 3 else 272474 - 2 * 3 * 3 * 16)
        self.assertEqual(model(np.zeros((2, *shape), np.float32)).shape, (2, 10))
        with self.assertRaisesRegex(settings.ConfigError, "--model=resnet --resnet_depth=56"):
            config.ExperimentConfig().replace(model="resnet20", resnet_depth=56)

    def test_bad_depth(self):
        with self.assertRaises(ValueError):
            build_resnet((32, 32, 3), 10, depth=21)


if __name__ == "__main__":
    tf.test.main()
