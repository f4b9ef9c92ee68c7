"""Paper 004's re-initialisations keep the mask and exactly the property each promises."""
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import errors
from keras_initstudy.pruning import perturb

SHAPES = {"dense": (30, 12), "conv": (3, 3, 4, 6)}


def arrays(shape, seed=0):
    rng = np.random.default_rng(seed)
    w_0 = rng.normal(size=shape).astype(np.float32)
    w_k = (w_0 + 0.5 * rng.normal(size=shape)).astype(np.float32)  # many signs differ from w_0's
    fresh = rng.normal(size=shape).astype(np.float32)
    mask = rng.random(shape) < 0.6
    return w_k, w_0, fresh, mask


def groups_of(name, shape):
    return {"shuffle_layer": perturb.layer_groups, "shuffle_unit": perturb.unit_groups,
            "shuffle_kernel": perturb.kernel_groups}[name](shape)


class PerturbTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.product(name=["none", "random", "init", "init_signs", "init_magnitudes", "random_magnitudes",
                                 "shuffle_layer", "shuffle_unit", "shuffle_kernel"], shape=list(SHAPES))
    def test_pruned_entries_stay_exactly_zero(self, name, shape):
        w_k, w_0, fresh, mask = arrays(SHAPES[shape])
        new = perturb.apply(name, w_k, w_0, fresh, mask, np.random.default_rng(1))
        self.assertEqual(new.dtype, np.float32)
        self.assertAllEqual(new[~mask], np.zeros(int((~mask).sum()), np.float32))

    @parameterized.named_parameters(
        ("k_k", "none", "k", "k"), ("0_k", "init_signs", "0", "k"), ("k_0", "init_magnitudes", "k", "0"),
        ("0_0", "init", "0", "0"), ("k_random", "random_magnitudes", "k", "fresh"))
    def test_signs_and_magnitudes_come_from_the_promised_iteration(self, name, signs_from, magnitudes_from):
        w_k, w_0, fresh, mask = arrays(SHAPES["dense"])
        source = {"k": w_k, "0": w_0, "fresh": fresh}
        new = perturb.apply(name, w_k, w_0, fresh, mask, np.random.default_rng(1))[mask]
        self.assertAllEqual(np.signbit(new), np.signbit(source[signs_from][mask]))
        self.assertAllEqual(np.abs(new), np.abs(source[magnitudes_from][mask]))
        self.assertGreater(int(np.sum(np.signbit(w_k[mask]) != np.signbit(w_0[mask]))), 10)  # the test can fail

    @parameterized.product(name=["shuffle_layer", "shuffle_unit", "shuffle_kernel"], shape=list(SHAPES))
    def test_permutations_keep_each_groups_values_and_move_nothing_across_groups(self, name, shape):
        w_k, w_0, fresh, mask = arrays(SHAPES[shape])
        new = perturb.apply(name, w_k, w_0, fresh, mask, np.random.default_rng(1))
        groups = groups_of(name, w_k.shape)
        for group in np.unique(groups):
            where = (groups == group) & mask
            self.assertAllEqual(np.sort(new[where]), np.sort(w_k[where]))
        movable = not (name == "shuffle_kernel" and shape == "dense")
        self.assertEqual(bool(np.any(new[mask] != w_k[mask])), movable)

    def test_unit_groups_are_output_units_and_kernel_groups_are_spatial_slices(self):
        shape = SHAPES["conv"]
        units, slices = perturb.unit_groups(shape), perturb.kernel_groups(shape)
        self.assertEqual(len(np.unique(units[..., 2])), 1)  # one filter: one group
        self.assertEqual(len(np.unique(units)), shape[-1])
        self.assertEqual(len(np.unique(slices[:, :, 1, 2])), 1)  # one 3x3 slice: one group
        self.assertEqual(len(np.unique(slices)), shape[-2] * shape[-1])

    def test_shuffle_kernel_needs_a_convolution(self):
        with self.assertRaisesRegex(errors.UserError, "no convolution"):
            perturb.check("shuffle_kernel", {"hidden_1/kernel": (784, 300)})
        perturb.check("shuffle_kernel", {"conv/kernel": (3, 3, 1, 16), "output/kernel": (16, 10)})
        with self.assertRaisesRegex(errors.UserError, "shuffle_everything"):
            perturb.check("shuffle_everything", {})


if __name__ == "__main__":
    tf.test.main()
