"""The convnets and the model contract layer by layer, where a wrong build would still
train: ResNet-N (paper 004, open_lth's cifar_resnet) and WRN-d-k (paper 002), their
names, strides, shortcuts, batch-norm constants and the seed of every random draw
(seeds.derive(init seed, layer, part): the same config draws the same weights in
every version); dropout seeded from the data seed; the float32 softmax head under
mixed precision in every registered model; the ModelSpec's weight lists and the
registry's checks."""
import dataclasses
import inspect

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import initializers, models, seeds, settings, zero_init
from keras_initstudy.models import constnet, leakynet, registry, replicated, resnet, schicho, wide_resnet
from tests.models.test_registry import INFO, SMALL

SHAPE = (8, 8, 3)


def draw(initializer, shape):
    return keras.ops.convert_to_numpy(initializer(shape))


class ResNetStructureTest(tf.test.TestCase, parameterized.TestCase):

    def test_layers_strides_and_shortcuts(self):
        model = resnet.build_resnet(SHAPE, 5, depth=14, width=4, init_seed=3)
        self.assertEqual(model.name, "resnet")
        self.assertEqual(model.layers[0].name, "image")
        names = [layer.name for layer in model.layers]
        for name in ("stem_conv", "stem_bn", "stem_relu", "stage1_block2_conv1", "stage1_block2_bn1",
                     "stage1_block2_relu1", "stage1_block2_conv2", "stage1_block2_bn2", "stage1_block2_add",
                     "stage1_block2_relu", "stage2_block1_shortcut", "stage2_block1_shortcut_bn", "pool", "output"):
            self.assertIn(name, names)
        self.assertNotIn("stage1_block1_shortcut", names)  # same width, stride 1: identity
        self.assertNotIn("stage2_block2_shortcut", names)
        self.assertNotIn("stage1_block3_conv1", names)  # (14 - 2) / 6 = 2 blocks per stage
        self.assertEqual(model.get_layer("stage2_block1_conv1").strides, (2, 2))
        self.assertEqual(model.get_layer("stage2_block2_conv1").strides, (1, 1))
        self.assertEqual(model.get_layer("stage3_block1_shortcut").strides, (2, 2))
        self.assertEqual(model.get_layer("stage2_block1_add").output.shape, (None, 4, 4, 8))
        self.assertEqual(model.get_layer("stage3_block2_relu").output.shape, (None, 2, 2, 16))
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                self.assertIsNone(layer.bias, layer.name)
                torch_padded = layer.kernel_size == (3, 3) and layer.strides == (2, 2)  # tests/test_layers.py
                self.assertEqual(layer.padding, "valid" if torch_padded else "same", layer.name)
            if isinstance(layer, keras.layers.BatchNormalization):
                self.assertEqual((layer.momentum, layer.epsilon), (resnet.BN_MOMENTUM, resnet.BN_EPSILON))
        self.assertEqual(model.get_layer("output").activation.__name__, "softmax")
        with self.assertRaisesRegex(ValueError, "a CIFAR ResNet has 6 D \\+ 2 layers, got 2"):
            resnet.build_resnet(SHAPE, 5, depth=2)

    def test_every_draw_from_its_own_seed(self):
        spec = "he_normal"
        model = resnet.build_resnet(SHAPE, 5, depth=8, width=4, kernel_initializer=spec, init_seed=3)
        for layer in model.layers:
            with self.subTest(layer.name):
                if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
                    expected = initializers.from_spec(spec, seeds.derive(3, layer.name, "kernel"))
                    self.assertAllEqual(layer.kernel.numpy(), draw(expected, layer.kernel.shape))
                if isinstance(layer, keras.layers.BatchNormalization):
                    expected = keras.initializers.RandomUniform(0.0, 1.0, seed=seeds.derive(3, layer.name, "gamma"))
                    self.assertAllEqual(layer.gamma.numpy(), draw(expected, layer.gamma.shape))
        bias = initializers.from_spec("torch_default", seeds.derive(3, "output", "bias"), fan_in=16)
        self.assertAllEqual(model.get_layer("output").bias.numpy(), draw(bias, (5,)))
        fixed = resnet.build_resnet(SHAPE, 5, depth=8, width=4, bn_init="fixed")
        self.assertAllEqual(fixed.get_layer("stem_bn").gamma.numpy(), np.ones(4))

    def test_defaults_are_open_lths_resnet_20(self):
        model = resnet.build_resnet(SHAPE, 5)
        self.assertEqual(model.name, "resnet")
        self.assertEqual(model.get_layer("stem_conv").filters, 16)
        self.assertIn("stage3_block3_add", [layer.name for layer in model.layers])
        self.assertNotIn("stage3_block4_add", [layer.name for layer in model.layers])
        stem = model.get_layer("stem_conv").kernel
        self.assertAllEqual(stem.numpy(), draw(initializers.from_spec(
            resnet.KAIMING_NORMAL, seeds.derive(0, "stem_conv", "kernel")), stem.shape))  # init seed 0
        defaults = {k: p.default for k, p in inspect.signature(resnet.build_resnet).parameters.items()}
        self.assertEqual(defaults, {"input_shape": inspect.Parameter.empty, "num_classes": inspect.Parameter.empty,
                                    "depth": 20, "width": 16, "kernel_initializer": resnet.KAIMING_NORMAL,
                                    "bn_init": "uniform", "init_seed": 0, "name": "resnet"})
        self.assertEqual(resnet.KAIMING_NORMAL, f"kaiming_normal(gain={float(np.sqrt(2))!r})")


class WideResNetStructureTest(tf.test.TestCase):

    def test_layers_strides_and_shortcuts(self):
        model = wide_resnet.build_wide_resnet(SHAPE, 5, depth=16, widen_factor=1)
        self.assertEqual(model.name, "wrn_16_1")
        self.assertEqual(model.layers[0].name, "image")
        names = [layer.name for layer in model.layers]
        for name in ("stem_conv", "stage1_block1_1_bn", "stage1_block1_1_relu", "stage1_block1_conv1",
                     "stage1_block1_2_bn", "stage1_block1_2_relu", "stage1_block1_conv2", "stage1_block1_add",
                     "stage2_block1_shortcut", "final_bn", "final_relu", "pool", "output"):
            self.assertIn(name, names)
        self.assertNotIn("stage1_block1_shortcut", names)  # 16 -> 16 channels at stride 1: identity
        self.assertNotIn("stage2_block2_shortcut", names)
        self.assertNotIn("stage1_block3_conv1", names)  # (16 - 4) / 6 = 2 blocks per stage
        self.assertIn("stage1_block1_shortcut", [l.name for l in wide_resnet.build_wide_resnet(
            SHAPE, 5, depth=10, widen_factor=2).layers])  # 16 -> 32 channels
        self.assertEqual(model.get_layer("stem_conv").strides, (1, 1))
        self.assertEqual(model.get_layer("stage2_block1_conv1").strides, (2, 2))
        self.assertEqual(model.get_layer("stage2_block1_shortcut").strides, (2, 2))
        self.assertEqual(model.get_layer("stage2_block2_conv1").strides, (1, 1))
        self.assertEqual(model.get_layer("stage1_block2_add").output.shape, (None, 8, 8, 16))
        self.assertEqual(model.get_layer("stage2_block2_add").output.shape, (None, 4, 4, 32))
        self.assertEqual(model.get_layer("stage3_block2_add").output.shape, (None, 2, 2, 64))
        self.assertEqual(model.get_layer("output").activation.__name__, "softmax")
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                self.assertIsNone(layer.bias, layer.name)
                torch_padded = layer.kernel_size == (3, 3) and layer.strides == (2, 2)  # tests/test_layers.py
                self.assertEqual(layer.padding, "valid" if torch_padded else "same", layer.name)

    def test_every_draw_from_its_own_seed_and_dropout_from_the_data_seed(self):
        model = wide_resnet.build_wide_resnet(SHAPE, 5, depth=10, widen_factor=1, dropout=0.3, init_seed=2,
                                              data_seed=9)
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                expected = wide_resnet.he_fan_out(2.0, seeds.derive(2, layer.name, "kernel"))
                self.assertAllEqual(layer.kernel.numpy(), draw(expected, layer.kernel.shape), msg=layer.name)
        output = model.get_layer("output")
        self.assertAllEqual(output.kernel.numpy(), draw(initializers.TorchDefault(
            seed=seeds.derive(2, "output", "kernel")), output.kernel.shape))
        dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        self.assertEqual([d.name for d in dropouts], [f"stage{s}_block1_dropout" for s in (1, 2, 3)])
        self.assertEqual([d.seed for d in dropouts], [seeds.derive(9, d.name) for d in dropouts])
        self.assertEqual([d.rate for d in dropouts], [0.3] * 3)
        same_seed = wide_resnet.build_wide_resnet(SHAPE, 5, depth=10, widen_factor=1, dropout=0.3, init_seed=2)
        self.assertEqual(same_seed.get_layer("stage1_block1_dropout").seed, seeds.derive(2, "stage1_block1_dropout"))

    def test_defaults_are_wrn_28_10(self):
        model = wide_resnet.build_wide_resnet(SHAPE, 5)
        self.assertEqual(model.name, "wrn_28_10")
        self.assertEmpty([layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)])
        stem = model.get_layer("stem_conv").kernel
        self.assertAllEqual(stem.numpy(), draw(wide_resnet.he_fan_out(2.0, seeds.derive(0, "stem_conv", "kernel")),
                                               stem.shape))  # init seed 0
        defaults = {k: p.default for k, p in inspect.signature(wide_resnet.build_wide_resnet).parameters.items()}
        self.assertEqual({k: defaults[k] for k in ("depth", "widen_factor", "dropout", "init_seed", "data_seed")},
                         {"depth": 28, "widen_factor": 10, "dropout": 0.0, "init_seed": 0, "data_seed": None})


class DefaultsAndNormsTest(tf.test.TestCase):

    def test_leakynet_draws_from_init_seed_0_by_default(self):
        model = leakynet.build_leakynet(SHAPE, 5, widen_factor=1, num_blocks=3, channel_init="h")
        stem = model.get_layer("stem_conv").kernel
        expected = keras.initializers.VarianceScaling(leakynet.random_variance(0.01, "released"), "fan_in",
                                                      "untruncated_normal", seed=seeds.derive(0, "stem_conv", "kernel"))
        self.assertAllEqual(stem.numpy(), draw(expected, stem.shape))

    def test_constnet_batch_norm_is_pytorchs_and_can_be_turned_off(self):
        spec = models.build(models.config_class("constnet")(widen_factor=1, num_blocks=3), INFO, models.Seeds(0, 0))
        norms = [l for l in spec.model.layers if isinstance(l, keras.layers.BatchNormalization)]
        self.assertNotEmpty(norms)
        self.assertEqual({(l.momentum, l.epsilon) for l in norms}, {(constnet.BN_MOMENTUM, 1e-5)})
        off = models.build(models.config_class("constnet")(widen_factor=1, num_blocks=3, batch_norm=False), INFO,
                           models.Seeds(0, 0))
        self.assertEmpty([l for l in off.model.layers if isinstance(l, keras.layers.BatchNormalization)])


class SchichoLayersTest(tf.test.TestCase):
    """Paper 001's models: every Dense and Conv draws its own seed with its own fan-in."""

    def test_every_layer_draws_its_own_torch_default_with_its_fan_in(self):
        mnist = INFO.__class__("m", 10, (12, 12, 1), tuple("abcdefghij"))
        for name, fields in (("schicho_fnn", {"fnn_hidden": "5,4"}), ("schicho_cnn_mnist", {})):
            spec = models.build(models.config_class(name)(**fields), mnist, models.Seeds(6, 0))
            for layer_name in spec.kernels:
                layer = spec.model.get_layer(layer_name)
                shape = layer.kernel.shape
                kernel, bias = zero_init.layer_initializers("torch_default", 1.0, 6, layer_name,
                                                            int(np.prod(shape[:-1])))
                with self.subTest(model=name, layer=layer_name):
                    self.assertAllEqual(layer.kernel.numpy(), draw(kernel, shape))
                    self.assertAllEqual(layer.bias.numpy(), draw(bias, (shape[-1],)))

    def test_softmax_output_and_pytorch_batch_norm(self):
        spec = models.build(models.config_class("logistic")(), INFO, models.Seeds(0, 0))
        self.assertEqual(spec.model.get_layer("output").activation.__name__, "softmax")
        cifar = models.build(models.config_class("schicho_cnn_cifar")(), INFO.__class__(
            "c", 10, (8, 8, 3), tuple("abcdefghij")), models.Seeds(0, 0))
        norms = [l for l in cifar.model.layers if isinstance(l, keras.layers.BatchNormalization)]
        self.assertEqual([l.name for l in norms], ["stage1_bn", "stage2_bn", "stage3_bn"])
        self.assertEqual({(l.momentum, l.epsilon) for l in norms}, {(0.9, 1e-5)})

    def test_resnet50_strides(self):
        spec = models.build(models.config_class("resnet50")(), INFO.__class__("c", 10, (32, 32, 3),
                                                                              tuple("abcdefghij")), models.Seeds(0, 0))
        self.assertEqual(spec.model.get_layer("stage2_block1_conv2").strides, (2, 2))
        self.assertEqual(spec.model.get_layer("stage2_block1_add").output.shape, (None, 16, 16, 512))
        self.assertEqual(spec.model.get_layer("stage4_block3_add").output.shape, (None, 4, 4, 2048))


class DropoutSeedTest(tf.test.TestCase, parameterized.TestCase):
    """Dropout masks are data randomness: seeded from the data seed (the init seed when none is given)."""

    @parameterized.parameters(None, 9)
    def test_constnet(self, data_seed):
        model = constnet.build_constnet(SHAPE, 5, widen_factor=1, num_blocks=3, dropout=0.2, dropout_stem=True,
                                        init_seed=2, data_seed=data_seed)
        dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        self.assertEqual(dropouts[0].name, "stem_dropout")
        self.assertLen(dropouts, 4)
        expected_seed = 2 if data_seed is None else data_seed
        self.assertEqual([d.seed for d in dropouts], [seeds.derive(expected_seed, d.name) for d in dropouts])

    @parameterized.parameters(None, 9)
    def test_leakynet(self, data_seed):
        model = leakynet.build_leakynet(SHAPE, 5, widen_factor=1, num_blocks=3, dropout=0.2, channel_init="1",
                                        init_seed=2, data_seed=data_seed)
        dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        self.assertNotEmpty(dropouts)
        expected_seed = 2 if data_seed is None else data_seed
        self.assertEqual([d.seed for d in dropouts], [seeds.derive(expected_seed, d.name) for d in dropouts])

    def test_replicated_mlp(self):
        model = replicated.build_replicated_mlp((4, 4, 1), 3, unique=2, replicas=2, dropout=0.5)
        self.assertEqual([l.name for l in model.layers], ["flatten", "hidden", "dropout", "output"])
        self.assertEqual(model.inputs[0].name, "image")
        self.assertEqual(model.get_layer("dropout").seed, seeds.derive(0, "dropout"))  # seed 0 by default
        self.assertAllEqual(model.get_layer("hidden").kernel.numpy(), replicated.build_replicated_mlp(
            (4, 4, 1), 3, unique=2, replicas=2, seed=0).get_layer("hidden").kernel.numpy())


class MixedPrecisionTest(tf.test.TestCase, parameterized.TestCase):

    # resnet50 is left out for time; its head is schicho's softmax Dense, as in the other schicho models
    @parameterized.parameters(*[name for name in SMALL if name != "resnet50"])
    def test_the_softmax_head_stays_float32(self, name):
        cfg = dataclasses.replace(models.config_class(name)(), **SMALL[name]) if SMALL[name] else \
            models.config_class(name)()
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            spec = models.build(cfg, INFO, models.Seeds(0, 0))
        finally:
            keras.mixed_precision.set_global_policy("float32")
        self.assertEqual(spec.model.get_layer(spec.output).dtype_policy.compute_dtype, "float32")
        self.assertEqual(spec.model.output.dtype, "float32")
        for layer in spec.kernels:
            if layer != spec.output:  # the hidden layers compute in float16
                self.assertEqual(spec.model.get_layer(layer).dtype_policy.compute_dtype, "float16", layer)


class ModelSpecWeightsTest(tf.test.TestCase):

    def spec(self):
        inputs = keras.Input((3,))
        h = keras.layers.Dense(4, name="hidden")(inputs)
        h = keras.layers.Dense(4, use_bias=False, name="no_bias")(h)
        outputs = keras.layers.Dense(2, name="output")(h)
        return models.ModelSpec.of(keras.Model(inputs, outputs))

    def test_kernels_and_biases(self):
        spec = self.spec()
        self.assertEqual(list(spec.weight_variables()), ["hidden/kernel", "no_bias/kernel", "output/kernel"])
        with_biases = spec.weight_variables(include_biases=True)
        self.assertEqual(list(with_biases), ["hidden/kernel", "hidden/bias", "no_bias/kernel", "output/kernel",
                                             "output/bias"])
        self.assertIs(with_biases["hidden/bias"], spec.model.get_layer("hidden").bias)
        self.assertIs(with_biases["output/kernel"], spec.model.get_layer("output").kernel)

    def test_kernel_variables_of_chosen_layers(self):
        spec = self.spec()
        self.assertEqual(list(spec.kernel_variables(["output"])), ["output/kernel"])
        self.assertIs(spec.kernel_variables(["no_bias"])["no_bias/kernel"], spec.model.get_layer("no_bias").kernel)
        self.assertEqual(list(spec.kernel_variables()), ["hidden/kernel", "no_bias/kernel", "output/kernel"])


@dataclasses.dataclass(frozen=True)
class _Plain(models.ModelConfig):
    pass


@dataclasses.dataclass(frozen=True)
class _Unbuildable(models.ModelConfig):
    pass


class RegisterChecksTest(tf.test.TestCase):

    def test_only_model_config_dataclasses(self):
        @dataclasses.dataclass
        class NotAModelConfig:
            pass
        with self.assertRaisesRegex(TypeError, "NotAModelConfig'> must be a ModelConfig dataclass$"):
            models.register("bad", NotAModelConfig)

    def test_a_config_class_serves_one_name(self):
        def builder(cfg, info, seeds_):
            return None
        models.register("plain_a", _Plain)(builder)
        try:
            with self.assertRaisesRegex(ValueError, "^_Plain is already the config of model 'plain_a'$"):
                models.register("plain_b", _Plain)(builder)
            registry.BUILDERS.remove("plain_a")
            models.register("plain_a", _Plain)(builder)  # registered again under its own name
            self.assertIs(models.config_class("plain_a"), _Plain)
        finally:
            registry.BUILDERS.remove("plain_a")


class SpecOfAndBuildErrorsTest(tf.test.TestCase):

    def test_prunable_layers_given_to_of(self):
        inputs = keras.Input((3,))
        outputs = keras.layers.Dense(2, name="output")(keras.layers.Dense(4, name="hidden")(inputs))
        spec = models.ModelSpec.of(keras.Model(inputs, outputs), prunable=["hidden"])
        self.assertEqual((spec.kernels, spec.prunable), (("hidden", "output"), ("hidden",)))

    def test_a_shape_the_model_cannot_take_is_a_user_error_naming_the_model(self):
        from keras_initstudy import errors

        def builder(cfg, info, seeds_):
            raise ValueError("no conv masks")
        models.register("unbuildable", _Unbuildable)(builder)
        try:
            with self.assertRaisesRegex(errors.UserError, "^cannot build unbuildable: no conv masks$"):
                models.build(_Unbuildable(), INFO, models.Seeds(0, 0))
        finally:
            registry.BUILDERS.remove("unbuildable")


class MLPConfigTest(tf.test.TestCase):

    def test_the_mask_layer_must_be_a_kernel(self):
        with self.assertRaises(settings.ConfigError) as raised:
            models.config_class("mlp")(depth=2, mask_layer=3)
        self.assertEqual(str(raised.exception), "mask_layer=3: must be at most depth=2 (kernels are numbered 0..depth)")


class SchichoSizesTest(tf.test.TestCase):

    def test_hidden_sizes(self):
        self.assertEqual(schicho._hidden_sizes("1"), (1,))
        self.assertEqual(schicho._hidden_sizes("100,50"), (100, 50))
        with self.assertRaisesRegex(ValueError, "^4,0$"):
            schicho._hidden_sizes("4,0")
        with self.assertRaises(settings.ConfigError):
            models.config_class("schicho_fnn")(fnn_hidden="0")


if __name__ == "__main__":
    tf.test.main()
