"""Forward/backward correlations: the paper's cosine (eqs. 5-6 and the cases §4.1
lists) and the authors' code's Pearson (checked against np.corrcoef, NaN -> 1)."""
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy.analysis import correlations


class CorrelationTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.product(shape=[(3, 3, 64, 64), (300, 200)], kind=correlations.KINDS)
    def test_random_gaussian_kernels_are_near_zero(self, shape, kind):
        kernel = np.random.default_rng(0).normal(size=shape)
        self.assertLess(abs(correlations.forward(kernel, kind)), 0.01)
        self.assertLess(abs(correlations.backward(kernel, kind)), 0.01)

    @parameterized.product(kernel=[np.full((3, 3, 8, 16), 0.37), np.zeros((3, 3, 8, 16)), np.ones((5, 7))],
                           kind=correlations.KINDS)
    def test_constant_and_zero_kernels_are_fully_correlated(self, kernel, kind):
        self.assertEqual(correlations.forward(kernel, kind), 1.0)
        self.assertEqual(correlations.backward(kernel, kind), 1.0)

    @parameterized.parameters((0,), (1,), (2,))
    def test_pearson_is_the_authors_corrcoef_mean_of_the_lower_triangle(self, seed):
        """correlation.py: B = np.corrcoef(A); B[isnan(B)] = 1; sum(tril(B, -1)) / (n (n - 1) / 2).
        Rows with a shared offset, scaled copies, anti-copies and exactly constant rows."""
        rng = np.random.default_rng(seed)
        rows = rng.normal(size=(12, 9)) + rng.normal(size=(12, 1)) * 3
        rows[3] = 2.5 * rows[1] + 7.0            # Pearson 1, cosine not
        rows[4] = -rows[2]                       # Pearson -1
        rows[5], rows[6] = 0.0, 0.25             # constant: NaN in np.corrcoef -> 1
        with np.errstate(invalid="ignore", divide="ignore"):
            expected = np.corrcoef(rows)
        expected[np.isnan(expected)] = 1.0
        n = len(rows)
        expected = np.sum(np.tril(expected, -1)) / (n * (n - 1) / 2)
        self.assertNear(correlations.mean_pairwise(rows, "pearson"), expected, 1e-12)
        self.assertGreater(abs(correlations.mean_pairwise(rows, "cosine") - expected), 0.05)

    def test_pearson_and_cosine_differ_where_centring_matters(self):
        """One-hot filters: cosine 0 (orthogonal), Pearson -1/(d - 1); an offset makes
        cosine near 1 and leaves Pearson unchanged."""
        self.assertNear(correlations.forward(np.eye(16), "pearson"), -1 / 15, 1e-12)
        self.assertNear(correlations.forward(np.eye(16) + 5.0, "pearson"), -1 / 15, 1e-12)
        self.assertGreater(correlations.forward(np.eye(16) + 5.0, "cosine"), 0.99)

    def test_unknown_kind(self):
        with self.assertRaisesRegex(ValueError, "pearson"):
            correlations.forward(np.eye(3), "spearman")

    def test_replicated_filters(self):
        """U unique orthogonal filters, each replicated r times: rho_fwd = (r - 1) / (U r - 1);
        replication does not touch the backward slices' mutual angles the same way."""
        unique, r = 8, 4
        filters = np.repeat(np.eye(unique, 20), r, axis=0)  # (U r, 20) rows
        kernel = filters.T.reshape(4, 5, 1, unique * r)  # output channels last
        self.assertNear(correlations.forward(kernel, "cosine"), (r - 1) / (unique * r - 1), 1e-12)

    def test_orthogonal_is_zero_and_identity_replication(self):
        self.assertNear(correlations.forward(np.eye(16), "cosine"), 0.0, 1e-12)
        # Identity expanded to replicate C channels to 2C: pairs (j, j + C) are equal.
        expanded = np.concatenate([np.eye(8), np.eye(8)], axis=1)  # (in 8, out 16)
        self.assertNear(correlations.forward(expanded, "cosine"), 1 / 15, 1e-12)

    def test_zero_and_nonzero_slices(self):
        rows = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
        # ordered pairs: (0,1),(1,0) cos 1; (2,3),(3,2) cos 1 by convention; the 8 mixed pairs 0.
        self.assertNear(correlations.mean_pairwise_cosine(rows), 4 / 12, 1e-12)

    def test_slices_follow_keras_layout(self):
        kernel = np.arange(2 * 2 * 3 * 5, dtype=float).reshape(2, 2, 3, 5)
        self.assertEqual(correlations.forward_slices(kernel).shape, (5, 12))
        self.assertEqual(correlations.backward_slices(kernel).shape, (3, 20))
        self.assertAllEqual(correlations.forward_slices(kernel)[2], kernel[..., 2].ravel())

    @parameterized.parameters(*correlations.KINDS)
    def test_big_layers_are_subsampled(self, kind):
        rows = np.random.default_rng(1).normal(size=(6000, 10))
        value = correlations.mean_pairwise(rows, kind, max_rows=500)
        self.assertLess(abs(value), 0.01)
        self.assertEqual(value, correlations.mean_pairwise(rows, kind, max_rows=500))  # seeded

    def test_subsample_is_seed_0_without_repeats(self):
        rows = np.random.default_rng(2).normal(size=(300, 6))
        keep = np.random.default_rng(0).choice(300, size=40, replace=False)
        for kind in correlations.KINDS:
            self.assertNear(correlations.mean_pairwise(rows, kind, max_rows=40),
                            correlations.mean_pairwise(rows[keep], kind), 1e-12, msg=kind)

    def test_float32_rows_are_computed_in_double_precision(self):
        rows = np.random.default_rng(3).normal(size=(50, 7)).astype(np.float32) + np.float32(0.3)
        for kind in correlations.KINDS:
            self.assertEqual(correlations.mean_pairwise(rows, kind), correlations.mean_pairwise(rows.astype(np.float64), kind))

    def test_two_rows_and_one_row(self):
        two = np.array([[1.0, 2.0, 4.0], [4.0, 2.0, 1.0]])
        self.assertNear(correlations.mean_pairwise(two), np.corrcoef(two)[0, 1], 1e-12)  # pearson by default
        self.assertNear(correlations.mean_pairwise(np.array([[1.0, 0.0], [0.0, 1.0]]), "cosine"), 0.0, 1e-12)
        for kind in correlations.KINDS:
            self.assertEqual(correlations.mean_pairwise(np.array([[0.3, 0.1, 0.7]]), kind), 1.0)
            self.assertEqual(correlations.mean_pairwise(np.tile([0.1, 0.7, 0.3], (5, 1)), kind), 1.0)

    def test_forward_and_backward_pass_kind_and_options_on(self):
        kernel = np.random.default_rng(4).normal(size=(3, 3, 6, 8)) + 0.5
        self.assertEqual(correlations.forward(kernel), correlations.mean_pairwise_pearson(correlations.forward_slices(kernel)))
        self.assertEqual(correlations.backward(kernel), correlations.mean_pairwise_pearson(correlations.backward_slices(kernel)))
        self.assertEqual(correlations.forward(kernel, "cosine"),
                         correlations.mean_pairwise_cosine(correlations.forward_slices(kernel)))
        self.assertEqual(correlations.backward(kernel, "cosine"),
                         correlations.mean_pairwise_cosine(correlations.backward_slices(kernel)))
        for direction, slices in ((correlations.forward, correlations.forward_slices),
                                  (correlations.backward, correlations.backward_slices)):
            self.assertEqual(direction(kernel, "cosine", max_rows=3, seed=5),
                             correlations.mean_pairwise_cosine(slices(kernel), max_rows=3, seed=5))
        self.assertEqual(correlations.mean_pairwise(kernel[0, 0], max_rows=3, seed=5),
                         correlations.mean_pairwise_pearson(kernel[0, 0], max_rows=3, seed=5))
        self.assertNotEqual(correlations.mean_pairwise(kernel[0, 0], max_rows=3, seed=5),
                            correlations.mean_pairwise(kernel[0, 0]))

    def test_backward_slices_hold_each_input_channel(self):
        kernel = np.arange(2 * 2 * 3 * 5, dtype=float).reshape(2, 2, 3, 5)
        self.assertAllEqual(correlations.backward_slices(kernel)[1], kernel[:, :, 1, :].ravel())

    def test_stage_names(self):
        self.assertEqual(correlations.stage_of("stage2_block1_conv/kernel"), "stage2")
        self.assertEqual(correlations.stage_of("stem_conv/kernel"), "stem")
        self.assertEqual(correlations.stage_of("hidden_1/kernel"), "hidden_1")


if __name__ == "__main__":
    tf.test.main()
