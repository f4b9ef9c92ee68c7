"""LeakyNet at initialisation (paper 002 §5.1, App. G-H)."""
import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import initializers
from keras_initstudy.callbacks.perturbation import perturbation_ratio
from keras_initstudy.models.leakynet import build_leakynet, expand_pattern
from tests.models.test_constnet import all_activations, images

ALPHA = 0.01


def pair(channels, letter, alpha=ALPHA):
    """One sign-swapping pair, as LeakyNet builds it, on its own."""
    kind = "i" if letter == "i" else "1"
    inputs = keras.Input((6, 6, channels))
    x = inputs
    for scale in (-1.0, -1.0 / alpha):
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False,
                                kernel_initializer=initializers.ChannelMatrix(kind, scale))(x)
        x = keras.layers.LeakyReLU(negative_slope=alpha)(x)
    return keras.Model(inputs, x)


class LeakyNetTest(tf.test.TestCase, parameterized.TestCase):

    def test_an_identity_pair_is_the_identity_for_any_input(self):
        x = np.random.default_rng(0).normal(size=(3, 6, 6, 8)).astype(np.float32)
        self.assertAllClose(pair(8, "i")(x), x, rtol=1e-5, atol=1e-6)

    def test_pairs_inside_the_network_are_identities_at_init(self):
        model = build_leakynet((28, 28, 1), 10, widen_factor=1, num_blocks=4, batch_norm=False)
        acts = all_activations(model, images())
        self.assertAllClose(acts["stage1_pair1_b_leaky"], acts["stage1_widen"], rtol=1e-5, atol=1e-6)
        self.assertAllClose(acts["stage2_pair1_b_leaky"], acts["stage2_widen"], rtol=1e-5, atol=1e-6)
        # The first half of a pair swaps signs: positive inputs come out scaled by -alpha.
        self.assertAllClose(acts["stage1_pair1_a_leaky"], -ALPHA * acts["stage1_widen"], rtol=1e-5, atol=1e-8)

    def test_identity_and_averaging_agree_on_symmetric_features(self):
        x = images()
        acts = {}
        for letter in ("i", "1"):
            keras.utils.set_random_seed(0)
            model = build_leakynet((28, 28, 1), 10, widen_factor=2, num_blocks=4, channel_init=letter,
                                   batch_norm=False)
            acts[letter] = all_activations(model, x)
        for name in acts["i"]:
            self.assertAllClose(acts["i"][name], acts["1"][name], rtol=1e-5, atol=1e-6, msg=name)
        final = acts["1"]["stage2_pair1_b_leaky"]
        self.assertAllEqual(final, np.broadcast_to(final[..., :1], final.shape))

    def test_averaging_removes_a_symmetry_breaking_perturbation_identity_keeps_it(self):
        """App. G: perturbations orthogonal to the all-ones direction survive 'i' and not '1'."""
        rng = np.random.default_rng(1)
        symmetric = np.repeat(rng.normal(size=(2, 6, 6, 1)), 16, axis=-1)
        x = (symmetric + 1e-3 * rng.normal(size=symmetric.shape)).astype(np.float32)
        before = perturbation_ratio(x)
        self.assertNear(perturbation_ratio(pair(16, "i")(x)), before, 1e-3 * before)
        self.assertLess(perturbation_ratio(pair(16, "1")(x)), 1e-3 * before)

    def test_pattern(self):
        self.assertEqual(expand_pattern("i", 4), "iiii")
        self.assertEqual(expand_pattern("ii11", 4), "ii11")
        with self.assertRaises(ValueError):
            expand_pattern("ii1", 4)
        with self.assertRaises(ValueError):
            build_leakynet((28, 28, 1), 10, num_blocks=3)

    def test_he_pattern_is_the_random_baseline(self):
        model = build_leakynet((28, 28, 1), 10, widen_factor=1, num_blocks=2, channel_init="h")
        acts = all_activations(model, images())["stem_conv"]
        self.assertGreater(float(np.abs(acts - acts[..., :1]).max()), 0.01)


class InitializerConfigTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(
        (initializers.ChannelAveraging(), (3, 3, 4, 6)),
        (initializers.ChannelMatrix("i", -2.0), (3, 3, 5, 5)),
        (initializers.ChannelMatrix("replicate"), (1, 1, 3, 7)),
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
