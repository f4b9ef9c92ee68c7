"""Forward/backward correlations, paper 002 eqs. (5)-(6) and the cases §4.1 lists."""
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy.analysis import correlations


class CorrelationTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(((3, 3, 64, 64),), ((300, 200),))
    def test_random_gaussian_kernels_are_near_zero(self, shape):
        kernel = np.random.default_rng(0).normal(size=shape)
        self.assertLess(abs(correlations.forward(kernel)), 0.01)
        self.assertLess(abs(correlations.backward(kernel)), 0.01)

    @parameterized.parameters((np.full((3, 3, 8, 16), 0.37),), (np.zeros((3, 3, 8, 16)),), (np.ones((5, 7)),))
    def test_constant_and_zero_kernels_are_fully_correlated(self, kernel):
        self.assertEqual(correlations.forward(kernel), 1.0)
        self.assertEqual(correlations.backward(kernel), 1.0)

    def test_replicated_filters(self):
        """U unique orthogonal filters, each replicated r times: rho_fwd = (r - 1) / (U r - 1);
        replication does not touch the backward slices' mutual angles the same way."""
        unique, r = 8, 4
        filters = np.repeat(np.eye(unique, 20), r, axis=0)  # (U r, 20) rows
        kernel = filters.T.reshape(4, 5, 1, unique * r)  # output channels last
        self.assertNear(correlations.forward(kernel), (r - 1) / (unique * r - 1), 1e-12)

    def test_orthogonal_is_zero_and_identity_replication(self):
        self.assertNear(correlations.forward(np.eye(16)), 0.0, 1e-12)
        # Identity expanded to replicate C channels to 2C: pairs (j, j + C) are equal.
        expanded = np.concatenate([np.eye(8), np.eye(8)], axis=1)  # (in 8, out 16)
        self.assertNear(correlations.forward(expanded), 1 / 15, 1e-12)

    def test_zero_and_nonzero_slices(self):
        rows = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
        # ordered pairs: (0,1),(1,0) cos 1; (2,3),(3,2) cos 1 by convention; the 8 mixed pairs 0.
        self.assertNear(correlations.mean_pairwise_cosine(rows), 4 / 12, 1e-12)

    def test_slices_follow_keras_layout(self):
        kernel = np.arange(2 * 2 * 3 * 5, dtype=float).reshape(2, 2, 3, 5)
        self.assertEqual(correlations.forward_slices(kernel).shape, (5, 12))
        self.assertEqual(correlations.backward_slices(kernel).shape, (3, 20))
        self.assertAllEqual(correlations.forward_slices(kernel)[2], kernel[..., 2].ravel())

    def test_big_layers_are_subsampled(self):
        rows = np.random.default_rng(1).normal(size=(6000, 10))
        value = correlations.mean_pairwise_cosine(rows, max_rows=500)
        self.assertLess(abs(value), 0.01)

    def test_stage_names(self):
        self.assertEqual(correlations.stage_of("stage2_block1_conv/kernel"), "stage2")
        self.assertEqual(correlations.stage_of("stem_conv/kernel"), "stem")
        self.assertEqual(correlations.stage_of("hidden_1/kernel"), "hidden_1")


if __name__ == "__main__":
    tf.test.main()
