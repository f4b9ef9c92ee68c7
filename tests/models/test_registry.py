"""The model contract: every builder returns a ModelSpec that names its kernels, prunable
layers and output; the registry fails loudly; a new model is one registration."""
import dataclasses

import keras
import tensorflow as tf
from absl import flags
from absl.testing import parameterized

from keras_initstudy import config, flagdefs, models, settings
from keras_initstudy.datasets import base as datasets_base
from keras_initstudy.models import registry

INFO = datasets_base.DatasetInfo("t", 3, (8, 8, 3), ("a", "b", "c"))
SMALL = {"mlp": dict(width=6), "constnet": dict(widen_factor=1, num_blocks=3),
         "constnet_he": dict(widen_factor=1, num_blocks=3), "wide_resnet": dict(widen_factor=1, wrn_depth=10),
         "leakynet": dict(widen_factor=1, num_blocks=3, channel_init="1_i1i"),
         "lenet_300_100": {}, "resnet": dict(resnet_depth=8, resnet_width=4), "resnet20": dict(resnet_width=2),
         "logistic": {}, "schicho_fnn": dict(fnn_hidden="5"), "schicho_cnn_mnist": {}, "schicho_cnn_cifar": {},
         "resnet50": {}}
KERNEL_LAYERS = (keras.layers.Dense, keras.layers.Conv2D)


class ModelSpecTest(tf.test.TestCase, parameterized.TestCase):

    def test_every_model_is_covered(self):
        self.assertEqual(set(models.names()), set(SMALL))

    @parameterized.parameters(*SMALL)
    def test_spec_names_the_kernels_not_biases_or_batch_norm(self, name):
        cfg = config.ExperimentConfig().replace(model=name, **SMALL[name])
        spec = models.build(cfg.model, INFO, models.Seeds(0, 0))
        expected = [layer.name for layer in spec.model.layers if isinstance(layer, KERNEL_LAYERS)]
        self.assertEqual(list(spec.kernels), expected)
        self.assertEqual(spec.prunable, spec.kernels)
        self.assertEqual(spec.output, "output")
        self.assertIsInstance(spec.model.get_layer(spec.output), keras.layers.Dense)
        kernels = spec.kernel_variables()
        self.assertEqual(list(kernels), [f"{n}/kernel" for n in spec.kernels])
        self.assertTrue(all(len(v.shape) >= 2 for v in kernels.values()))
        trainable_kernels = [v for v in spec.model.trainable_weights if v.path.endswith("/kernel")]
        self.assertLen(trainable_kernels, len(kernels))  # no kernel is missed
        with_biases = spec.weight_variables(include_biases=True)
        self.assertTrue(all(n.endswith(("/kernel", "/bias")) for n in with_biases))
        self.assertNotIn("gamma", " ".join(with_biases))

    def test_convnets_name_their_feature_layers(self):
        # LeakyNet: one block per stage, so blocks 0, 1, 2: batch norm applied on block 1 only (odd)
        for name, block_outputs in (("constnet", ["_add"] * 3), ("constnet_he", ["_add"] * 3),
                                    ("wide_resnet", ["_add"] * 3), ("leakynet", ["_bn_idle", "_bn", "_bn_idle"])):
            cfg = config.ExperimentConfig().replace(model=name, **SMALL[name])
            spec = models.build(cfg.model, INFO, models.Seeds(0, 0))
            self.assertEqual(spec.features[0], "stem_conv")
            self.assertEqual(list(spec.features[1:]), [f"stage{s}_block1{block_output}"
                                                       for s, block_output in zip((1, 2, 3), block_outputs)])

    def test_a_spec_with_an_unknown_layer_fails(self):
        spec = models.build(models.config_class("mlp")(width=4), INFO, models.Seeds(0, 0))
        with self.assertRaisesRegex(ValueError, "does not have"):
            models.ModelSpec(spec.model, ("hidden_1",), ("hidden_1",), "nope")
        with self.assertRaisesRegex(ValueError, "^prunable layers must be kernel layers$"):
            models.ModelSpec(spec.model, ("hidden_1",), ("flatten",), "output")


@dataclasses.dataclass(frozen=True)
class ToyConfig(models.ModelConfig):
    toy_units: int = settings.setting(3, "Units of the toy model.", settings.at_least(1))


def build_toy(cfg, info, seeds):
    inputs = keras.Input(info.input_shape)
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(info.num_classes, name="output")(keras.layers.Dense(cfg.toy_units, name="h")(x))
    return models.ModelSpec.of(keras.Model(inputs, outputs))


class RegistryTest(tf.test.TestCase):

    def test_a_new_model_is_one_registration(self):
        models.register("toy", ToyConfig)(build_toy)
        try:
            fv = flags.FlagValues()
            flagdefs.define_train_flags(fv)
            fv(["prog", "--model=toy", "--toy_units=5"])
            cfg = flagdefs.config_from_flags(fv)
            self.assertEqual((cfg.model_name, cfg.model.toy_units), ("toy", 5))
            spec = models.build(cfg.model, INFO, cfg.training.seeds)
            self.assertEqual(spec.kernels, ("h", "output"))
            with self.assertRaises(flags.Error):
                fv2 = flags.FlagValues()
                flagdefs.define_train_flags(fv2)
                fv2(["prog", "--model=toy", "--toy_units=0"])
        finally:
            registry.BUILDERS.remove("toy")  # keep the registry as other tests expect it

    def test_duplicates_and_unknown_names_fail_loudly(self):
        with self.assertRaisesRegex(ValueError, "model 'mlp' is registered twice"):
            models.register("mlp", type("Other", (ToyConfig,), {"name": ""}))(build_toy)
        with self.assertRaisesRegex(settings.ConfigError, "unknown model 'nope'; valid names: constnet"):
            models.config_class("nope")
        with self.assertRaises(TypeError):
            models.register("x", dict)


if __name__ == "__main__":
    tf.test.main()
