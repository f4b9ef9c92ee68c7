"""Every initializer of the package keeps the Keras contract (seeded draws, the requested
dtype, configs that rebuild the same initializer) and draws what its docstring and paper
say; every check on its arguments raises its one-line message."""
import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import initializers, masks, seeds, variance_initializers, zero_init

# name -> (factory of seed, shape); the seed is ignored by deterministic initializers
CASES = {
    "masked": (lambda s: initializers.MaskedInitializer("glorot_uniform", "a", seed=s), (20, 12)),
    "masked_array": (lambda s: initializers.MaskedInitializer("he_normal", [[1, 0], [0, 1], [1, 1]], seed=s), (3, 2)),
    "torch_default_kernel": (lambda s: initializers.TorchDefault(seed=s), (3, 3, 4, 6)),
    "torch_default_bias": (lambda s: initializers.TorchDefault(fan_in=9, seed=s), (40,)),
    "random_bias_normal": (lambda s: initializers.RandomBias("normal", 0.5, seed=s), (50,)),
    "random_bias_uniform": (lambda s: initializers.RandomBias("uniform", 2.0, seed=s), (50,)),
    "replicated": (lambda s: initializers.ReplicatedUnits(3, 2, 0.1, seed=s), (5, 6)),
    "xavier_normal": (lambda s: variance_initializers.Xavier("normal", 1.5, seed=s), (7, 9)),
    "kaiming_uniform": (lambda s: variance_initializers.Kaiming("uniform", None, seed=s), (3, 3, 2, 5)),
    "named_xavier_uniform_half": (lambda s: initializers.from_spec("xavier_uniform_half", s), (8, 4)),
}
DETERMINISTIC = {
    "channel_averaging": (lambda s: initializers.ChannelAveraging(), (3, 3, 4, 6)),
    "channel_matrix": (lambda s: initializers.ChannelMatrix("i", -2.0), (3, 3, 4, 8)),
}


def draw(initializer, shape, dtype=None):
    return keras.ops.convert_to_numpy(initializer(shape, dtype=dtype))


class ContractTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.named_parameters(*((n, *c) for n, c in {**CASES, **DETERMINISTIC}.items()))
    def test_config_rebuilds_the_same_initializer(self, factory, shape):
        original = factory(5)
        rebuilt = type(original).from_config(original.get_config())
        self.assertEqual(rebuilt.get_config(), original.get_config())
        self.assertAllEqual(draw(rebuilt, shape), draw(original, shape))
        serialized = keras.initializers.deserialize(keras.initializers.serialize(original))
        self.assertAllEqual(draw(serialized, shape), draw(original, shape))

    @parameterized.named_parameters(*((n, *c) for n, c in {**CASES, **DETERMINISTIC}.items()))
    def test_the_requested_dtype(self, factory, shape):
        self.assertEqual(draw(factory(5), shape).dtype, np.float32)
        self.assertEqual(draw(factory(5), shape, "float64").dtype, np.float64)
        self.assertEqual(draw(factory(5), shape, "float16").dtype, np.float16)

    @parameterized.named_parameters(*((n, *c) for n, c in CASES.items()))
    def test_a_seed_fixes_the_draw_and_another_seed_changes_it(self, factory, shape):
        self.assertAllEqual(draw(factory(5), shape), draw(factory(5), shape))
        self.assertNotAllEqual(draw(factory(5), shape), draw(factory(6), shape))
        self.assertEqual(factory(5).get_config().get("seed", 5), 5)


class ValuesTest(tf.test.TestCase, parameterized.TestCase):

    def test_masked_initializer_is_the_base_draw_times_the_mask(self):
        shape = (20, 12)
        expected = draw(initializers.from_spec("glorot_uniform", 3), shape) * masks.glyph_mask(shape, "a")
        self.assertAllEqual(draw(initializers.MaskedInitializer(seed=3), shape), expected)  # defaults: glorot, 'a'
        self.assertAllEqual(draw(initializers.MaskedInitializer(mask="b", seed=3), shape) != 0,
                            masks.glyph_mask(shape, "b") > 0)
        masked = initializers.MaskedInitializer("he_normal", [[1, 0], [0, 1], [1, 1]], seed=3)
        self.assertEqual(masked.mask.dtype, np.float32)
        self.assertAllEqual(draw(masked, (3, 2)) != 0, [[True, False], [False, True], [True, True]])
        self.assertEqual(masked.get_config()["mask"], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        self.assertEqual(initializers.MaskedInitializer(base=keras.initializers.HeNormal(seed=1), seed=9).base.seed, 9)

    def test_masked_initializer_checks_the_shape(self):
        with self.assertRaisesRegex(ValueError, r"^MaskedInitializer needs a 2-D weight matrix, got shape \(3, 3, 2\)$"):
            initializers.MaskedInitializer(seed=1)((3, 3, 2))
        with self.assertRaisesRegex(ValueError, r"^mask shape \(3, 2\) does not match weight shape \(2, 3\)$"):
            initializers.MaskedInitializer(mask=np.ones((3, 2)), seed=1)((2, 3))

    def test_masked_or_plain(self):
        base = keras.initializers.Zeros()
        for none in (None, "", "none"):
            self.assertIs(initializers.masked_or_plain(base, none), base)
        masked = initializers.masked_or_plain(base, "b")
        self.assertIsInstance(masked, initializers.MaskedInitializer)
        self.assertEqual(masked.mask, "b")

    def test_torch_default_bound(self):
        kernel = draw(initializers.TorchDefault(seed=1), (3, 3, 4, 600))  # fan_in 36
        self.assertBetween(float(np.abs(kernel).max()), 0.99 / 6, 1 / 6)
        bias = draw(initializers.TorchDefault(fan_in=400, seed=1), (2000,))
        self.assertBetween(float(np.abs(bias).max()), 0.049, 0.05)
        with self.assertRaisesRegex(ValueError, "^torch_default on a bias needs the layer's fan_in$"):
            initializers.TorchDefault(seed=1)((10,))

    def test_random_bias(self):
        normal = draw(initializers.RandomBias(scale=0.5, seed=1), (20000,))  # normal by default
        self.assertNear(float(normal.std()), 0.5, 0.01)
        self.assertLess(float(normal.min()), 0.0)
        uniform = draw(initializers.RandomBias("uniform", 2.0, seed=1), (20000,))
        self.assertTrue(((uniform >= 0) & (uniform < 2)).all())
        self.assertNear(float(uniform.mean()), 1.0, 0.03)
        self.assertNear(float(draw(initializers.RandomBias(seed=1), (20000,)).std()), 1.0, 0.02)  # scale 1
        with self.assertRaisesRegex(ValueError, r"^distribution must be one of \('normal', 'uniform'\), got 'cauchy'$"):
            initializers.RandomBias("cauchy")

    def test_channel_matrix_and_averaging(self):
        self.assertAllEqual(initializers.centre_tap((3, 3)), [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
        self.assertAllEqual(initializers.centre_tap((4, 2)), [[0, 0], [1, 0], [0, 0], [0, 0]])
        averaging = draw(initializers.ChannelAveraging(), (3, 3, 4, 6))
        self.assertAllEqual(averaging[1, 1], np.full((4, 6), 0.25))
        self.assertEqual(float(np.abs(averaging).sum()), 6.0)
        identity = draw(initializers.ChannelMatrix(), (1, 1, 2, 4))[0, 0]  # 'i', scale 1 by default
        self.assertAllEqual(identity, [[1, 0, 1, 0], [0, 1, 0, 1]])
        self.assertAllEqual(draw(initializers.ChannelMatrix("1", 3.0), (1, 1, 2, 3))[0, 0], np.full((2, 3), 1.5))
        with self.assertRaisesRegex(ValueError, r"^kind must be one of \('i', '1', 'replicate'\), got 'x'$"):
            initializers.ChannelMatrix("x")
        for kind in ("i", "replicate"):
            with self.assertRaisesRegex(ValueError, r"^identity channel matrix needs C_out >= C_in, got 4 -> 2$"):
                initializers.ChannelMatrix(kind)((3, 3, 4, 2))
        self.assertAllEqual(draw(initializers.ChannelMatrix("replicate"), (1, 1, 3, 3))[0, 0], np.eye(3))  # C_out = C_in
        for kind in ("i", "1"):
            self.assertEqual(initializers.ChannelMatrix(kind).channel_matrix(2, 4).dtype, np.float32)
        self.assertEqual(initializers.centre_tap((3, 3)).dtype, np.float32)
        for init in (initializers.ChannelMatrix(), initializers.ChannelAveraging()):
            with self.assertRaisesRegex(ValueError, r"^expected a conv kernel \(kh, kw, c_in, c_out\), got shape \(4, 2\)$"):
                init((4, 2))

    def test_replicated_units(self):
        self.assertAllEqual(draw(initializers.ReplicatedUnits(3, 2), (5, 6)),
                            draw(initializers.ReplicatedUnits(3, 2, seed=0), (5, 6)))  # seed 0 by default
        kernel = draw(initializers.ReplicatedUnits(3, 2, seed=4), (5, 6))  # no noise by default
        self.assertAllEqual(kernel[:, 0::2], kernel[:, 1::2])  # copies are adjacent columns
        units = draw(initializers.from_spec("he_normal", seeds.derive(4, "units")), (5, 6))[:, :3]
        self.assertAllEqual(kernel[:, 0::2], units)
        noisy = draw(initializers.ReplicatedUnits(3, 2, 0.1, seed=4), (5, 6))
        noise = draw(initializers.from_spec("he_normal", seeds.derive(4, "noise")), (5, 6))
        self.assertAllClose(noisy, kernel + 0.1 * noise, atol=1e-6)
        with self.assertRaisesRegex(ValueError, r"^7 units is not unique 3 x replicas 2$"):
            initializers.ReplicatedUnits(3, 2)((5, 7))

    @parameterized.parameters(("xavier_uniform", (30, 20), np.sqrt(6 / 50)), ("xavier_normal", (30, 20), np.sqrt(2 / 50)),
                              ("kaiming_uniform", (3, 3, 4, 8), np.sqrt(3 / 36)), ("kaiming_normal", (36, 8), np.sqrt(1 / 36)),
                              ("xavier_uniform_half", (30, 20), 0.5 * np.sqrt(6 / 50)),
                              ("xavier_normal_double", (30, 20), 2 * np.sqrt(2 / 50)))
    def test_paper_003_table_1(self, name, shape, size):
        init = initializers.from_spec(name, 1)
        self.assertNear(init.scale(shape), size, 1e-12)
        values = draw(initializers.from_spec(name, 1), (400, 300) if len(shape) == 2 else shape)
        if "uniform" in name:
            self.assertLessEqual(float(np.abs(values).max()), size if len(shape) > 2 else init.scale((400, 300)))
        self.assertEqual(init.get_config(), {"gain": init.gain, "seed": 1})

    def test_named_makes_a_registered_class_with_its_distribution_and_gain(self):
        """variance_initializers._named makes the class; initializers.named() registers paper 003's by name."""
        cls = variance_initializers._named("kaiming_normal_triple", variance_initializers.Kaiming, "normal", 3.0)
        self.assertNotIn("kaiming_normal_triple", initializers.named())  # only PAPER_003's are registered
        self.assertIs(initializers.named().get("kaiming_normal"), variance_initializers.PAPER_003["kaiming_normal"])
        self.assertEqual(cls.__name__, "KaimingNormalTriple")
        self.assertTrue(issubclass(cls, variance_initializers.Kaiming))
        init = cls(seed=4)
        self.assertEqual((init.distribution, init.gain, init.seed), ("normal", 3.0, 4))
        self.assertEqual(cls(gain=0.5).gain, 0.5)
        self.assertEqual(init.get_config(), {"gain": 3.0, "seed": 4})
        self.assertEqual(cls.from_config(init.get_config()).get_config(), init.get_config())
        self.assertNear(init.scale((36, 8)), 3.0 * np.sqrt(1 / 36), 1e-12)
        self.assertEqual(keras.saving.get_registered_object("keras_initstudy>KaimingNormalTriple"), cls)
        self.assertEqual(sorted(variance_initializers.PAPER_003),
                         ["kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_normal_double",
                          "xavier_normal_half", "xavier_uniform", "xavier_uniform_double", "xavier_uniform_half"])

    def test_fans_and_argument_checks(self):
        self.assertEqual(variance_initializers.fans((30, 20)), (30, 20))
        self.assertEqual(variance_initializers.fans((3, 5, 4, 8)), (60, 120))
        self.assertEqual(variance_initializers.fans((5, 4, 8)), (20, 40))  # a 1-D convolution
        with self.assertRaisesRegex(ValueError, r"^fan-based initializers need a kernel of 2 or more dimensions, "
                                                r"got shape \(7,\)$"):
            variance_initializers.fans((7,))
        with self.assertRaisesRegex(ValueError, "^distribution must be uniform or normal, got 'cauchy'$"):
            variance_initializers.Xavier("cauchy")
        self.assertEqual(variance_initializers.Xavier().get_config(), {"distribution": "uniform", "gain": 1.0, "seed": None})
        self.assertEqual(variance_initializers.Xavier(gain=2).gain, 2.0)


class SpecTest(tf.test.TestCase):

    def test_from_spec(self):
        init = initializers.from_spec("random_normal(stddev=0.5)", 7)
        self.assertEqual((init.stddev, init.seed), (0.5, 7))
        copied = initializers.from_spec(init, 8)
        self.assertEqual((type(copied), copied.stddev, copied.seed), (type(init), 0.5, 8))
        self.assertIsNot(copied, init)
        self.assertEqual(initializers.from_spec(init).seed, 7)  # no seed given: kept
        self.assertEqual(initializers.from_spec("torch_default", 1, fan_in=9).fan_in, 9)  # context it takes
        self.assertEqual(initializers.from_spec("torch_default(fan_in=4)", 1, fan_in=9).fan_in, 4)  # spec wins
        self.assertEqual(initializers.from_spec("zeros", 1, fan_in=9).get_config(), {})  # context it ignores

    def test_from_spec_errors(self):
        with self.assertRaisesRegex(ValueError, r"^'glorot_uniform\(seed=1\)': seeds come from --init_seed, "
                                                r"not from the initializer$"):
            initializers.from_spec("glorot_uniform(seed=1)", 0)
        with self.assertRaisesRegex(ValueError, r"^unknown initializer 'nope' \(a Keras name such as glorot_uniform, "
                                                r"or one of: .*random_bias, torch_default, xavier_normal.*\)$"):
            initializers.from_spec("nope")
        with self.assertRaisesRegex(ValueError, r"^\"random_bias\(distribution='x'\)\": distribution must be one of"):
            initializers.from_spec("random_bias(distribution='x')")
        with self.assertRaisesRegex(ValueError, r"^'zeros\(foo=1\)': "):
            initializers.from_spec("zeros(foo=1)")
        initializers.check_spec("xavier_normal_half")
        uniform = draw(initializers.RandomBias("uniform", seed=2), (5000,))
        self.assertGreater(float(uniform.max()), 0.99)  # U[0, 1): the upper bound is 1
        with self.assertRaises(ValueError):
            initializers.check_spec("glorot_uniform(seed=1)")


class ZeroInitTest(tf.test.TestCase, parameterized.TestCase):
    """Paper 001 §2.1's schemes, one seed per layer and part."""

    def test_torch_default(self):
        kernel, bias = zero_init.layer_initializers("torch_default", 1.0, 3, "dense_1", fan_in=25)
        self.assertEqual((kernel.seed, bias.seed), (seeds.derive(3, "dense_1", "kernel"), seeds.derive(3, "dense_1", "bias")))
        self.assertEqual((kernel.fan_in, bias.fan_in), (25, 25))
        self.assertBetween(float(np.abs(draw(bias, (5000,))).max()), 0.19, 0.2)

    @parameterized.parameters(("zeros_normal_bias", "normal"), ("zeros_uniform_bias", "uniform"))
    def test_zero_kernel_random_bias(self, scheme, distribution):
        kernel, bias = zero_init.layer_initializers(scheme, 0.01, 3, "conv", fan_in=25)
        self.assertAllEqual(draw(kernel, (4, 3)), np.zeros((4, 3)))
        self.assertEqual(bias.get_config(), {"distribution": distribution, "scale": 0.01,
                                             "seed": seeds.derive(3, "conv", "bias")})

    def test_zeros_and_unknown(self):
        kernel, bias = zero_init.layer_initializers("zeros", 1.0, 3, "conv", fan_in=25)
        self.assertAllEqual(draw(bias, (4,)), np.zeros(4))
        self.assertAllEqual(draw(kernel, (2, 2)), np.zeros((2, 2)))
        with self.assertRaisesRegex(ValueError, "^unknown initialisation scheme 'ones'; one of torch_default, "
                                                "zeros_normal_bias, zeros_uniform_bias, zeros$"):
            zero_init.layer_initializers("ones", 1.0, 3, "conv", fan_in=25)


if __name__ == "__main__":
    tf.test.main()
