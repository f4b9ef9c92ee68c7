"""LeakyNet at initialisation (paper 002 §5.1-5.2, Table 2, App. G-H), as the authors'
remodel.py builds it: 13 convs, Table 2's patterns, signs +1 / -1/a, scalar input biases."""
import math
import warnings

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import initializers, layers
from keras_initstudy.callbacks.perturbation import perturbation_ratio
from keras_initstudy.models.leakynet import build_leakynet, expand_pattern
from tests.models.test_constnet import CIFAR, SHAPE, all_activations, images, trainable_count

ALPHA = 0.01
# paper 002 Table 2 rows (He, 'i', '1' counts) and the authors' lrnet_experiment.sh patterns.
TABLE_2 = {"h_hhhh_hhhh_hhhh": (13, 0, 0), "i_iiii_iiii_iiii": (0, 13, 0), "1_iiii_iiii_iiii": (0, 12, 1),
           "1_iiii_11ii_iiii": (0, 10, 3), "1_iiii_1111_iiii": (0, 8, 5), "1_ii11_ii11_ii11": (0, 6, 7),
           "1_1111_1111_1111": (0, 0, 13)}


def pair(channels, letter, alpha=ALPHA):
    """Two consecutive LeakyNet blocks without batch norm (signs +1 then -1/a), on their own."""
    inputs = keras.Input((6, 6, channels))
    x = inputs
    for scale in (1.0, -1.0 / alpha):
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False,
                                kernel_initializer=initializers.ChannelMatrix(letter, scale))(x)
        x = keras.layers.LeakyReLU(negative_slope=alpha)(x)
    return keras.Model(inputs, x)


def centre(model, layer):
    kernel = model.get_layer(layer).kernel.numpy()
    off_centre = kernel.copy()
    off_centre[1, 1] = 0
    assert not off_centre.any(), layer
    return kernel[1, 1]


class LeakyNetTest(tf.test.TestCase, parameterized.TestCase):

    def test_a_pair_is_minus_the_identity_for_any_input(self):
        x = np.random.default_rng(0).normal(size=(3, 6, 6, 8)).astype(np.float32)
        self.assertAllClose(pair(8, "i")(x), -x, rtol=1e-5, atol=1e-6)

    @parameterized.parameters(*TABLE_2.items())
    def test_table_2_patterns_build_13_convs_with_their_letters(self, pattern, counts):
        letters = expand_pattern(pattern, 12)
        self.assertEqual(tuple(letters.count(c) for c in "hi1"), counts)
        model = build_leakynet(CIFAR, 10, widen_factor=1, num_blocks=12, channel_init=pattern)
        convs = [l.name for l in model.layers if isinstance(l, keras.layers.Conv2D)]
        self.assertLen(convs, 13)
        for j, (name, letter) in enumerate(zip(convs, letters)):
            if letter == "h":
                self.assertGreater(np.abs(model.get_layer(name).kernel.numpy()[0, 0]).max(), 0.0, name)
                continue
            sign = 1.0 if j <= 1 or (j - 1) % 2 == 0 else -1.0 / ALPHA  # stem and even blocks +1
            c_in, c_out = model.get_layer(name).kernel.shape[2:]
            expected = (np.full((c_in, c_out), 1.0 / c_in) if letter == "1"
                        else (np.arange(c_out)[None] % c_in == np.arange(c_in)[:, None]).astype(float))
            self.assertAllClose(centre(model, name), sign * expected, rtol=1e-6, msg=name)

    def test_blocks_alternate_signs_and_each_pair_is_minus_identity_in_the_network(self):
        model = build_leakynet(SHAPE, 10, widen_factor=1, num_blocks=6, channel_init="i", batch_norm=False)
        acts = all_activations(model, images())
        stem = acts["stem_conv"]
        self.assertAllClose(acts["stage1_block1_leaky"], np.where(stem > 0, stem, ALPHA * stem), rtol=1e-5, atol=1e-7)
        self.assertAllClose(acts["stage1_block2_leaky"], -stem, rtol=1e-5, atol=1e-6)

    def test_identity_and_averaging_agree_on_symmetric_features_only(self):
        """A '1' stem makes the features identical: then 'i' and '1' blocks compute the same thing.
        An 'i' stem copies R, G, B into different channels: there they differ."""
        x = images(shape=CIFAR)
        for stem, same in (("1", True), ("i", False)):
            acts = {blocks: all_activations(build_leakynet(CIFAR, 10, widen_factor=2, num_blocks=6, batch_norm=False,
                                                           channel_init=stem + blocks * 6), x)
                    for blocks in ("i", "1")}
            final = acts["1"]["final_leaky"]
            if same:
                for name in acts["i"]:
                    self.assertAllClose(acts["i"][name], acts["1"][name], rtol=1e-5, atol=1e-6, msg=name)
                self.assertAllEqual(final, np.broadcast_to(final[..., :1], final.shape))
            else:
                self.assertGreater(float(np.abs(acts["i"]["final_leaky"] - final).max()), 1e-3)

    @parameterized.parameters(True, False)
    def test_averaging_stem_gives_identical_features_everywhere(self, batch_norm):
        model = build_leakynet(CIFAR, 10, widen_factor=2, num_blocks=6, channel_init="1_ii_11_i1", batch_norm=batch_norm)
        for name, value in all_activations(model, images(shape=CIFAR)).items():
            if value.ndim == 4 and name != "image":
                self.assertAllClose(value, np.broadcast_to(value[..., :1], value.shape), rtol=1e-6, atol=1e-6,
                                    msg=name)

    def test_averaging_removes_a_symmetry_breaking_perturbation_identity_keeps_it(self):
        """App. G: perturbations orthogonal to the all-ones direction survive 'i' and not '1'."""
        rng = np.random.default_rng(1)
        symmetric = np.repeat(rng.normal(size=(2, 6, 6, 1)), 16, axis=-1)
        x = (symmetric + 1e-3 * rng.normal(size=symmetric.shape)).astype(np.float32)
        before = perturbation_ratio(x)
        self.assertNear(perturbation_ratio(pair(16, "i")(x)), before, 1e-3 * before)
        self.assertLess(perturbation_ratio(pair(16, "1")(x)), 1e-3 * before)

    def test_layout_batch_norm_after_odd_blocks_scalar_biases_final_leaky_relu(self):
        """remodel.py applies a block's batch norm when its phase is -1 (odd blocks, counted over the
        network); the even blocks' batch norms exist and pass their input through."""
        model = build_leakynet(CIFAR, 10, widen_factor=1, num_blocks=6, dropout=0.1, channel_init="1_ii_ii_ii")
        names = [l.name for l in model.layers]
        self.assertEqual(names[names.index("stage2_block1_input_bias"):names.index("stage2_block2_bn") + 1],
                         ["stage2_block1_input_bias", "stage2_block1_conv_pad", "stage2_block1_conv",
                          "stage2_block1_leaky", "stage2_block1_dropout", "stage2_block1_bn_idle",
                          "stage2_block2_input_bias", "stage2_block2_conv", "stage2_block2_leaky",
                          "stage2_block2_dropout", "stage2_block2_bn"])
        applied = [l.name for l in model.layers if type(l) is keras.layers.BatchNormalization]
        idle = [l.name for l in model.layers if isinstance(l, layers.IdleBatchNormalization)]
        self.assertEqual(applied, [f"stage{s}_block2_bn" for s in (1, 2, 3)])
        self.assertEqual(idle, [f"stage{s}_block1_bn_idle" for s in (1, 2, 3)])
        self.assertEqual(names[-3:], ["final_leaky", "pool", "output"])
        self.assertNotIn("stem_bn", names)
        biases = [w for w in model.trainable_weights if w.path.endswith("input_bias/bias")]
        self.assertLen(biases, 6)
        self.assertAllEqual([float(b.numpy()) for b in biases], [0.0] * 6)
        self.assertAllEqual(model.get_layer("output").kernel.numpy(), np.zeros((64, 10)))

    def test_a_pair_with_its_batch_norm_is_minus_identity_and_idle_norms_never_change(self):
        model = build_leakynet(SHAPE, 10, widen_factor=1, num_blocks=6, channel_init="i")
        acts = all_activations(model, images(), training=False)  # running averages 0 and 1 at init
        stem = acts["stem_conv"]
        self.assertAllEqual(acts["stage1_block1_bn_idle"], acts["stage1_block1_leaky"])
        self.assertAllClose(acts["stage1_block2_bn"], -stem / np.sqrt(1 + 1e-5), rtol=1e-5, atol=1e-6)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        idle = {w.path: w.numpy() for w in model.weights if "_bn_idle/" in w.path}
        self.assertLen(idle, 4 * 3)  # gamma, beta and the two running averages of three blocks
        with warnings.catch_warnings(record=True) as caught:  # the filters as build_leakynet left them
            model.fit(images(8), np.arange(8) % 10, epochs=1, batch_size=4, verbose=0)
        self.assertEqual([str(w.message) for w in caught if "Gradients do not exist" in str(w.message)], [])
        for w in model.weights:
            if w.path in idle:
                self.assertAllEqual(w.numpy(), idle[w.path], msg=w.path)

    def test_parameter_count_is_the_authors_lrnet(self):
        """remodel.py LRNet(16, 10, widen_factor=10): stem 3x3x3x16; per block conv + bn(C_out) + 2 scalar
        biases (the second unused: not built here); fc with bias. Every block's bn counts, although
        only the odd blocks apply theirs (the even ones are IdleBatchNormalization here)."""
        model = build_leakynet(CIFAR, 10)
        convs = 9 * 3 * 16 + 9 * (16 * 160 + 3 * 160 * 160 + 160 * 320 + 3 * 320 * 320 + 320 * 640 + 3 * 640 * 640)
        batch_norms = 2 * 4 * (160 + 320 + 640)
        theirs = convs + batch_norms + 12 * 2 + 640 * 10 + 10
        self.assertEqual(trainable_count(model), theirs - 12)
        self.assertEqual(theirs, 16_858_066)

    @parameterized.parameters(("released", math.sqrt(2) * (1 + ALPHA)), ("leaky_he", 2 / (1 + ALPHA ** 2)))
    def test_h_variance(self, h_variance, variance_times_fan_in):
        model = build_leakynet(CIFAR, 10, widen_factor=4, num_blocks=6, channel_init="h", h_variance=h_variance)
        kernel = model.get_layer("stage3_block2_conv").kernel.numpy().astype(np.float64)
        self.assertNear(kernel.var() * 9 * 256 / variance_times_fan_in, 1.0, 6 * np.sqrt(2 / kernel.size))
        acts = all_activations(model, images(shape=CIFAR))["stem_conv"]
        self.assertGreater(float(np.abs(acts - acts[..., :1]).max()), 0.01)

    def test_pattern(self):
        self.assertEqual(expand_pattern("i", 3), "iiii")
        self.assertEqual(expand_pattern("1_ii_1", 3), "1ii1")
        for bad in ("ii1", "1_iiii", "1_ii_x"):
            with self.subTest(bad), self.assertRaises(ValueError):
                expand_pattern(bad, 3)
        with self.assertRaisesRegex(ValueError, "multiple of 3"):
            build_leakynet(SHAPE, 10, num_blocks=4, channel_init="i")


class InitializerConfigTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(
        (initializers.ChannelAveraging(), (3, 3, 4, 6)),
        (initializers.ChannelMatrix("i", -2.0), (3, 3, 5, 5)),
        (initializers.ChannelMatrix("replicate"), (1, 1, 3, 7)),
        (initializers.ChannelMatrix("i", 1.0), (3, 3, 3, 16)),
        (initializers.ReplicatedUnits(3, 2, 0.0), (5, 6)),
    )
    def test_round_trip(self, init, shape):
        copy = keras.initializers.deserialize(keras.initializers.serialize(init))
        self.assertEqual(type(copy), type(init))
        self.assertEqual(copy.get_config(), init.get_config())
        if not isinstance(init, initializers.ReplicatedUnits):  # random draws differ
            self.assertAllEqual(copy(shape), init(shape))

    def test_channel_averaging_values(self):
        kernel = keras.ops.convert_to_numpy(initializers.ChannelAveraging()((3, 3, 4, 2)))
        self.assertAllEqual(kernel[1, 1], np.full((4, 2), 0.25))
        kernel[1, 1] = 0
        self.assertAllEqual(kernel, np.zeros_like(kernel))

    def test_replicate_copies_each_input_channel(self):
        kernel = keras.ops.convert_to_numpy(initializers.ChannelMatrix("replicate")((1, 1, 3, 7)))[0, 0]
        self.assertAllEqual(kernel.argmax(axis=0), np.arange(7) % 3)
        self.assertAllEqual(kernel.sum(axis=0), np.ones(7))

    def test_replicated_units(self):
        keras.utils.set_random_seed(0)
        kernel = keras.ops.convert_to_numpy(initializers.ReplicatedUnits(4, 3, 0.0)((50, 12)))
        for unit in range(4):
            for copy in range(1, 3):
                self.assertAllEqual(kernel[:, 3 * unit + copy], kernel[:, 3 * unit])
        self.assertNotAllEqual(kernel[:, 0], kernel[:, 3])
        noisy = keras.ops.convert_to_numpy(initializers.ReplicatedUnits(4, 3, 0.1)((50, 12)))
        self.assertNotAllEqual(noisy[:, 0], noisy[:, 1])
        self.assertNear(float(np.corrcoef(noisy[:, 0], noisy[:, 1])[0, 1]), 1.0, 0.05)

    def test_replicated_units_noise_is_an_independent_draw(self):
        """App. E: the noise is independent of the units. (Calling one Keras initializer twice
        returns the same values: with one replica the 'noise' would just scale W by 1 + eps.)"""
        clean = keras.ops.convert_to_numpy(initializers.ReplicatedUnits(30, 1, 0.0, seed=3)((400, 30)))
        noisy = keras.ops.convert_to_numpy(initializers.ReplicatedUnits(30, 1, 0.1, seed=3)((400, 30)))
        noise = (noisy - clean) / 0.1
        self.assertLess(abs(float(np.corrcoef(noise.ravel(), clean.ravel())[0, 1])), 0.05)
        self.assertNear(float(noise.std()), float(clean.std()), 0.1 * float(clean.std()))  # same He scale
        other_seed = keras.ops.convert_to_numpy(initializers.ReplicatedUnits(30, 1, 0.0, seed=4)((400, 30)))
        self.assertNotAllEqual(clean, other_seed)


if __name__ == "__main__":
    tf.test.main()
