"""What the MLP builders promise, layer by layer: each layer's draw comes from the seed of
(init seed, its name, kernel or bias) with the initializer it was given; the mark sits on
kernel `mask_layer`; dropout layers are seeded from the data seed; every bad argument is
refused with its message."""
import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import initializers, masks, models, seeds, settings
from keras_initstudy.datasets import base as datasets_base
from keras_initstudy.models import constnet, leakynet, mlp, replicated, wide_resnet


def weights(model, layer):
    return [w.numpy() for w in model.get_layer(layer).weights]


def expected_draw(spec, init_seed, layer, part, shape, **context):
    return keras.ops.convert_to_numpy(initializers.from_spec(spec, seeds.derive(init_seed, layer, part),
                                                             **context)(shape))


class MLPBuilderTest(tf.test.TestCase, parameterized.TestCase):

    def test_defaults_are_paper_000s(self):
        model = mlp.build_mlp((4, 4, 1), 3)
        self.assertEqual(model.name, "mlp")
        self.assertEqual([l.name for l in model.layers], ["image", "flatten", "hidden_1", "hidden_2", "output"])
        self.assertEqual([l.units for l in model.layers[2:]], [256, 256, 3])
        self.assertEqual([l.activation.__name__ for l in model.layers[2:]], ["relu", "relu", "softmax"])
        kernel, bias = weights(model, "hidden_1")
        self.assertAllEqual(kernel, expected_draw("glorot_uniform", 0, "hidden_1", "kernel", (16, 256)))
        self.assertAllEqual(bias, np.zeros(256))
        self.assertTrue(np.all(weights(model, "hidden_2")[0] != 0))  # no mark by default

    def test_every_layer_draws_from_its_own_seed_and_the_given_initializers(self):
        model = mlp.build_mlp((3, 2), 4, width=5, depth=2, init_seed=7,
                              kernel_initializer=["he_normal", "glorot_normal", "torch_default"],
                              bias_initializer="torch_default")
        fan_ins = {"hidden_1": 6, "hidden_2": 5, "output": 5}
        for layer, spec, shape in (("hidden_1", "he_normal", (6, 5)), ("hidden_2", "glorot_normal", (5, 5)),
                                   ("output", "torch_default", (5, 4))):
            kernel, bias = weights(model, layer)
            self.assertAllEqual(kernel, expected_draw(spec, 7, layer, "kernel", shape), msg=layer)
            self.assertAllEqual(bias, expected_draw("torch_default", 7, layer, "bias", (shape[1],),
                                                    fan_in=fan_ins[layer]), msg=layer)
        self.assertNotAllEqual(weights(mlp.build_mlp((3, 2), 4, width=5, init_seed=8), "hidden_1")[0],
                               weights(mlp.build_mlp((3, 2), 4, width=5, init_seed=7), "hidden_1")[0])

    @parameterized.parameters(0, 1, 2)
    def test_the_mark_sits_on_kernel_mask_layer_only(self, mask_layer):
        model = mlp.build_mlp((20,), 20, width=20, depth=2, mask="a", mask_layer=mask_layer)
        for i, layer in enumerate(("hidden_1", "hidden_2", "output")):
            kernel = weights(model, layer)[0]
            if i == mask_layer:
                self.assertAllEqual(kernel != 0, masks.glyph_mask(kernel.shape, "a") > 0, msg=layer)
            else:
                self.assertTrue(np.all(kernel != 0), msg=layer)
        self.assertTrue(np.all(weights(mlp.build_mlp((20,), 20, width=20, mask="a", mask_layer=1), "hidden_2")[0]
                               == weights(mlp.build_mlp((20,), 20, width=20, mask="a"), "hidden_2")[0]))

    def test_dropout_after_each_hidden_layer_seeded_from_the_data_seed(self):
        model = mlp.build_mlp((3,), 2, width=4, depth=2, dropout=0.25, init_seed=1, data_seed=9)
        names = [l.name for l in model.layers]
        self.assertEqual(names, ["image", "flatten", "hidden_1", "dropout_1", "hidden_2", "dropout_2", "output"])
        dropout = model.get_layer("dropout_2")
        self.assertEqual(dropout.rate, 0.25)
        self.assertEqual(dropout.seed, seeds.derive(9, "dropout_2"))
        same_seed = mlp.build_mlp((3,), 2, width=4, depth=2, dropout=0.25, init_seed=9)  # data seed = init seed
        self.assertEqual(same_seed.get_layer("dropout_1").seed, seeds.derive(9, "dropout_1"))
        self.assertNotIn("dropout_1", [l.name for l in mlp.build_mlp((3,), 2, width=4).layers])

    def test_hidden_sizes_and_leaky_relu(self):
        model = mlp.build_mlp((3,), 2, hidden=(7, 4), activation="leaky_relu(negative_slope=0.05)", name="lenet")
        self.assertEqual(model.name, "lenet")
        self.assertEqual([l.name for l in model.layers],
                         ["image", "flatten", "hidden_1", "hidden_1_activation", "hidden_2", "hidden_2_activation",
                          "output"])
        self.assertEqual([model.get_layer(n).units for n in ("hidden_1", "hidden_2")], [7, 4])
        self.assertEqual(model.get_layer("hidden_2_activation").negative_slope, 0.05)
        self.assertEqual(model.get_layer("hidden_1").activation.__name__, "linear")
        self.assertIsNone(mlp.activation_layer("tanh", "x"))

    @parameterized.parameters(
        (dict(width=0), r"^hidden widths must be >= 1 and depth >= 0, got \[\], 0$", dict(depth=0)),
        (dict(hidden=(3, 0)), r"^hidden widths must be >= 1 and depth >= 0, got \[3, 0\], 2$", {}),
        (dict(depth=-1), r"^hidden widths must be >= 1 and depth >= 0, got \[\], -1$", {}),
        (dict(kernel_initializer=["zeros"] * 2), r"^kernel_initializer: got 2 initializers for 3 Dense layers$", {}),
        (dict(bias_initializer=["zeros"] * 4), r"^bias_initializer: got 4 initializers for 3 Dense layers$", {}),
        (dict(activation="tanh(x=1)"), r"^activation 'tanh\(x=1\)': only leaky_relu takes arguments$", {}),
    )
    def test_bad_arguments(self, bad, message, extra):
        with self.assertRaisesRegex(ValueError, message):
            mlp.build_mlp((3,), 2, **bad, **extra)

    def test_the_smallest_sizes_build(self):
        model = mlp.build_mlp((3,), 2, width=1, depth=1, hidden=None)
        self.assertEqual(model.get_layer("hidden_1").units, 1)
        self.assertEqual([l.name for l in mlp.build_mlp((3,), 2, width=1, depth=0).layers],
                         ["image", "flatten", "output"])
        with self.assertRaises(ValueError):
            mlp.activation_layer("nope", "x")


class ReplicatedBuilderTest(tf.test.TestCase):

    def test_layers_and_seeds(self):
        model = replicated.build_replicated_mlp((2, 3), 4, unique=3, replicas=2, noise=0.5, dropout=0.1, seed=5)
        self.assertEqual(model.name, "replicated_mlp")
        self.assertEqual([l.name for l in model.layers], ["flatten", "hidden", "dropout", "output"])
        hidden = model.get_layer("hidden")
        self.assertEqual((hidden.units, hidden.activation.__name__), (6, "relu"))
        expected = initializers.ReplicatedUnits(3, 2, 0.5, seed=seeds.derive(5, "hidden", "kernel"))((6, 6))
        self.assertAllEqual(hidden.kernel.numpy(), keras.ops.convert_to_numpy(expected))
        self.assertEqual(model.get_layer("dropout").rate, 0.1)
        self.assertEqual(model.get_layer("dropout").seed, seeds.derive(5, "dropout"))
        output = model.get_layer("output")
        self.assertEqual((output.units, output.activation.__name__), (4, "softmax"))
        he = keras.initializers.HeNormal(seed=seeds.derive(5, "output", "kernel"))((6, 4))
        self.assertAllEqual(output.kernel.numpy(), keras.ops.convert_to_numpy(he))
        self.assertEqual(model.input_shape, (None, 2, 3))
        plain = replicated.build_replicated_mlp((2, 3), 4, unique=3, replicas=2)
        self.assertNotIn("dropout", [l.name for l in plain.layers])
        kernel = plain.get_layer("hidden").kernel.numpy()
        self.assertAllEqual(kernel[:, 0::2], kernel[:, 1::2])  # no noise by default


if __name__ == "__main__":
    tf.test.main()


class ConfigReachesTheBuilderTest(tf.test.TestCase, parameterized.TestCase):
    """Building from a config (models.build) is the direct builder call with every field of
    the config, the init seed and the data seed passed on."""

    INFO = datasets_base.DatasetInfo("t", 5, (8, 8, 3), tuple("abcde"))

    def assert_same_model(self, spec, direct, features=None):
        built = spec.model
        self.assertEqual([l.name for l in built.layers], [l.name for l in direct.layers])
        self.assertEqual(built.name, direct.name)
        for a, b in zip(built.weights, direct.weights):
            self.assertEqual(a.path, b.path)
            self.assertAllEqual(a.numpy(), b.numpy(), msg=a.path)
        for a, b in zip(built.layers, direct.layers):
            if isinstance(a, keras.layers.Dropout):
                self.assertEqual((a.rate, a.seed), (b.rate, b.seed), msg=a.name)
            if isinstance(a, keras.layers.BatchNormalization):
                self.assertEqual(a.momentum, b.momentum, msg=a.name)
        if features is not None:
            self.assertEqual(spec.features, features)

    @parameterized.parameters("const", "he")
    def test_constnet(self, init):
        name = "constnet" if init == "const" else "constnet_he"
        cfg = models.config_class(name)(widen_factor=2, num_blocks=3, batch_norm=True, dropout=0.2,
                                        dropout_stem=True, batch_norm_momentum=0.7)
        spec = models.build(cfg, self.INFO, models.Seeds(init=3, data=4))
        direct = constnet.build_constnet((8, 8, 3), 5, widen_factor=2, num_blocks=3, batch_norm=True, dropout=0.2,
                                         dropout_stem=True, init=init, batch_norm_momentum=0.7, init_seed=3,
                                         data_seed=4)
        self.assert_same_model(spec, direct, constnet.feature_layers(direct))

    def test_leakynet(self):
        cfg = models.config_class("leakynet")(widen_factor=1, num_blocks=3, batch_norm=False, dropout=0.1,
                                              leaky_alpha=0.2, channel_init="h_i1h", h_variance="leaky_he")
        spec = models.build(cfg, self.INFO, models.Seeds(init=3, data=4))
        direct = leakynet.build_leakynet((8, 8, 3), 5, widen_factor=1, num_blocks=3, batch_norm=False, dropout=0.1,
                                         leaky_alpha=0.2, channel_init="h_i1h", h_variance="leaky_he", init_seed=3,
                                         data_seed=4)
        self.assert_same_model(spec, direct, leakynet.feature_layers(direct))

    def test_wide_resnet(self):
        cfg = models.config_class("wide_resnet")(widen_factor=1, wrn_depth=10, dropout=0.3)
        spec = models.build(cfg, self.INFO, models.Seeds(init=3, data=4))
        direct = wide_resnet.build_wide_resnet((8, 8, 3), 5, depth=10, widen_factor=1, dropout=0.3, init_seed=3,
                                               data_seed=4)
        self.assert_same_model(spec, direct, wide_resnet.feature_layers(direct))

    def test_mlp_and_lenet(self):
        cfg = models.config_class("mlp")(width=6, depth=1, activation="tanh", kernel_initializer="he_normal",
                                         bias_initializer="random_bias", mask="b", mask_layer=1, dropout=0.1)
        spec = models.build(cfg, self.INFO, models.Seeds(init=3, data=4))
        direct = mlp.build_mlp((8, 8, 3), 5, width=6, depth=1, activation="tanh", kernel_initializer="he_normal",
                               bias_initializer="random_bias", dropout=0.1, init_seed=3, data_seed=4, mask="b",
                               mask_layer=1)
        self.assert_same_model(spec, direct)
        cfg = models.config_class("lenet_300_100")(kernel_initializer="he_normal", activation="tanh")
        spec = models.build(cfg, self.INFO, models.Seeds(init=3, data=4))
        direct = mlp.build_mlp((8, 8, 3), 5, hidden=(300, 100), activation="tanh", kernel_initializer="he_normal",
                               init_seed=3, data_seed=4, name="lenet_300_100")
        self.assert_same_model(spec, direct)


class ConvnetStructureTest(tf.test.TestCase, parameterized.TestCase):
    """The paper-002 convnets layer by layer: names, strides, seeds of the random draws,
    the softmax head kept in float32, and the defaults."""

    def convs(self, model):
        return [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]

    @parameterized.parameters("const", "he")
    def test_constnet(self, init):
        model = constnet.build_constnet((8, 8, 3), 5, widen_factor=1, num_blocks=3, init=init, init_seed=2)
        self.assertEqual(model.name, "constnet" if init == "const" else "constnet_he")
        self.assertEqual(model.layers[0].name, "image")
        self.assertEqual(model.get_layer("output").activation.__name__, "softmax")
        for conv in self.convs(model):
            self.assertIsNone(conv.bias, conv.name)
            padded = conv.strides == (2, 2) and conv.kernel_size == (3, 3)  # PyTorch's (1, 1): tests/test_layers.py
            self.assertEqual(conv.padding, "valid" if padded else "same", conv.name)
        self.assertEqual(model.get_layer("stem_conv").strides, (1, 1))
        self.assertEqual([l.name for l in model.layers if l.name.endswith("_bn")][:1], ["stage1_block1_bn"])
        self.assertIsInstance(model.get_layer("stage1_block1_relu"), keras.layers.ReLU)
        self.assertEqual(model.get_layer("stage2_block1_conv").strides, (2, 2))
        if init == "he":
            for name, gain_squared in (("stem_conv", 1.0), ("stage2_block1_conv", 2.0)):
                kernel = model.get_layer(name).kernel
                expected = constnet.he_fan_out(gain_squared, seeds.derive(2, name, "kernel"))(kernel.shape)
                self.assertAllEqual(kernel.numpy(), keras.ops.convert_to_numpy(expected), msg=name)
        with self.assertRaisesRegex(ValueError, r"^init must be 'const' or 'he', got 'zero'$"):
            constnet.build_constnet((8, 8, 3), 5, init="zero")

    def test_constnet_defaults(self):
        model = constnet.build_constnet((8, 8, 3), 5)
        self.assertLen([l for l in model.layers if l.name.endswith("_add")], 12)
        self.assertEqual(model.get_layer("stage3_block4_conv").filters, 640)
        he = constnet.build_constnet((8, 8, 3), 5, widen_factor=1, init="he")
        self.assertAllEqual(he.get_layer("stem_conv").kernel.numpy(), keras.ops.convert_to_numpy(
            constnet.he_fan_out(1.0, seeds.derive(0, "stem_conv", "kernel"))((3, 3, 3, 16))))  # init seed 0
        no_bn = constnet.build_constnet((8, 8, 3), 5, widen_factor=1, num_blocks=3, batch_norm=False)
        self.assertEmpty([l for l in no_bn.layers if isinstance(l, keras.layers.BatchNormalization)])

    def test_leakynet(self):
        model = leakynet.build_leakynet((8, 8, 3), 5, widen_factor=1, num_blocks=3, leaky_alpha=0.2,
                                        channel_init="h", init_seed=2)  # every conv random
        self.assertEqual(model.name, "leakynet")
        self.assertEqual(model.layers[0].name, "image")
        self.assertEqual(model.get_layer("final_leaky").negative_slope, 0.2)
        self.assertEqual(model.get_layer("output").activation.__name__, "softmax")
        self.assertEqual(model.get_layer("stem_conv").strides, (1, 1))
        self.assertEqual(model.get_layer("stage2_block1_conv").strides, (2, 2))
        for conv in self.convs(model):
            self.assertIsNone(conv.bias, conv.name)
            kernel = conv.kernel
            variance = leakynet.random_variance(0.2, "released")
            expected = keras.initializers.VarianceScaling(variance, "fan_in", "untruncated_normal",
                                                          seed=seeds.derive(2, conv.name, "kernel"))(kernel.shape)
            self.assertAllEqual(kernel.numpy(), keras.ops.convert_to_numpy(expected), msg=conv.name)
        default = leakynet.build_leakynet((8, 8, 3), 5, widen_factor=1)  # 12 blocks, stem '1' then 'i'
        self.assertNear(float(default.get_layer("stem_conv").kernel.numpy()[1, 1, 0, 0]), 1.0 / 3, 1e-7)
        self.assertLen(self.convs(default), 13)

    def test_leaky_he_variance_and_errors(self):
        self.assertNear(leakynet.random_variance(0.5, "leaky_he"), 2.0 / 1.25, 1e-12)
        self.assertNear(leakynet.random_variance(0.5, "released"), np.sqrt(2) * 1.5, 1e-12)
        with self.assertRaisesRegex(ValueError, r"^h_variance must be one of \('released', 'leaky_he'\), got 'x'$"):
            leakynet.random_variance(0.5, "x")
        with self.assertRaisesRegex(ValueError, r"^channel pattern 'ii' must be one letter or 1 \+ 3 letters "
                                                r"\(stem first\) from i, 1, h; underscores are ignored$"):
            leakynet.expand_pattern("ii", 3)
        with self.assertRaises(settings.ConfigError) as raised:
            models.config_class("leakynet")(num_blocks=3, channel_init="iii")
        self.assertEqual(str(raised.exception), "channel pattern 'iii' must be one letter or 1 + 3 letters "
                                                "(stem first) from i, 1, h; underscores are ignored")
        without_bn = leakynet.build_leakynet((8, 8, 3), 5, widen_factor=1, num_blocks=3, batch_norm=False,
                                             channel_init="1")
        self.assertEqual(leakynet.feature_layers(without_bn),
                         ("stem_conv", "stage1_block1_leaky", "stage2_block1_leaky", "stage3_block1_leaky"))

    @parameterized.parameters("constnet", "leakynet")
    def test_the_head_stays_float32_under_mixed_precision(self, name):
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            model = (constnet.build_constnet((8, 8, 3), 5, widen_factor=1, num_blocks=3) if name == "constnet"
                     else leakynet.build_leakynet((8, 8, 3), 5, widen_factor=1, num_blocks=3, channel_init="1"))
        finally:
            keras.mixed_precision.set_global_policy("float32")
        self.assertEqual(model.get_layer("output").dtype_policy.compute_dtype, "float32")
        self.assertEqual(model.get_layer("stem_conv").dtype_policy.compute_dtype, "float16")
