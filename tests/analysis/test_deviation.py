"""Appendix B fits recover parameters planted in synthetic (w_i, w_f) data."""
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy.analysis import deviation

N = 40_000


def uniform_init(seed=0, limit=0.1, n=N):
    return np.random.default_rng(seed).uniform(-limit, limit, n)


class DeviationFitTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters((0.01, 0.9, 0.002), (-0.005, 1.1, 0.004), (0.0, 0.5, 0.001))
    def test_mean_and_sigma_recovered(self, a0, a1, noise):
        w_i = uniform_init()
        w_f = a0 + a1 * w_i + np.random.default_rng(1).normal(0, noise, N)
        result = deviation.fit(w_i, w_f)
        self.assertNear(result.a0, a0, 5e-4)
        self.assertNear(result.a1, a1, 0.01)
        self.assertNear(result.sigma0, noise, 0.25 * noise)  # B.3-B.4 are noisy at small sigma
        self.assertNear(result.c_opt, a1, 0.02)

    def test_sigma_as_function_of_w_i(self):
        """Noise that grows with |w_i|: sigma(w) from eq. (B.4) follows it."""
        w_i = uniform_init()
        spread = 0.001 + 0.02 * np.abs(w_i)
        w_f = w_i + np.random.default_rng(2).normal(0, 1, N) * spread
        a = deviation.mean_fit(w_i, w_f)
        b = deviation.second_moment_fit(w_i, w_f)
        # The quadratic model of <w_f^2> cannot follow |w_i|'s kink; compare at +-0.08 where it holds.
        for w in (-0.08, 0.08):
            self.assertNear(float(deviation.sigma(w, a, b)), 0.001 + 0.02 * abs(w), 8e-4)

    def test_untrained_copy(self):
        w_i = uniform_init()
        result = deviation.fit(w_i, w_i.copy())
        self.assertEqual(result.c_opt, 1.0)  # exactly: a delta peak on the line w_f = w_i
        self.assertNear(result.a1, 1.0, 1e-3)
        self.assertNear(result.a0, 0.0, 1e-5)
        self.assertNear(result.sigma0, 0.0, 2e-3)

    def test_c_opt_follows_the_peak_not_the_mean(self):
        """60% of the points sit tightly on slope 0.8; the rest are pushed up in proportion
        to w_i, so the mean line is steeper (a1 ~ 1.2) while the peak stays at 0.8."""
        w_i = uniform_init(seed=3)
        rng = np.random.default_rng(4)
        core = rng.random(N) < 0.6
        tail = rng.exponential(0.05, N) * (1 + 20 * w_i)
        w_f = 0.8 * w_i + np.where(core, rng.normal(0, 0.001, N), tail)
        a0, a1 = deviation.mean_fit(w_i, w_f)
        self.assertGreater(a1, 1.1)
        self.assertNear(deviation.c_opt(w_i, w_f), 0.8, 0.01)

    @parameterized.parameters(0.8137, 1.0423, -0.2371, 0.8168, -0.2329)
    def test_c_opt_resolves_the_fine_grid(self, slope):
        """c_opt promises the refined step 0.0005: a slope planted between coarse grid
        points (0.01 apart) comes back within one fine step, not rounded to the coarse grid."""
        w_i = uniform_init(seed=6)
        w_f = slope * w_i + np.random.default_rng(7).normal(0, 1e-5, N)
        self.assertNear(deviation.c_opt(w_i, w_f), slope, 0.0005)

    @parameterized.parameters(0.8105, 0.8095, 1.0005)
    def test_c_opt_finds_every_point_of_the_fine_grid(self, slope):
        """A slope exactly on the fine grid (coarse optimum +- k * 0.0005) comes back exactly."""
        w_i = uniform_init(seed=6, n=20_000)
        w_f = slope * w_i + np.random.default_rng(7).normal(0, 1e-6, 20_000)
        self.assertNear(deviation.c_opt(w_i, w_f), slope, 1e-9)

    def test_cumulative_keeps_ties_in_input_order_and_works_in_double_precision(self):
        rng = np.random.default_rng(8)
        w_i = np.repeat([0.0, 1.0], 50)[rng.permutation(100)]
        values = np.arange(100.0)
        w, big_w = deviation.cumulative(w_i, values)
        order = np.concatenate([np.flatnonzero(w_i == 0.0), np.flatnonzero(w_i == 1.0)])  # stable
        edges = np.concatenate([[0.0], (w[1:] + w[:-1]) / 2, [1.0]])
        self.assertAllEqual(big_w, np.cumsum(values[order] * np.diff(edges)))
        w32 = uniform_init(seed=9, n=500).astype(np.float32)
        v32 = (w32 * np.float32(1.1) + np.float32(0.3)).astype(np.float32)
        for uniform in (False, True):
            self.assertAllEqual(deviation.cumulative(w32, v32, uniform)[1],
                                deviation.cumulative(w32.astype(np.float64), v32.astype(np.float64), uniform)[1])

    def test_c_opt_searches_only_its_range(self):
        w_i = uniform_init(seed=8, n=2000)
        self.assertNear(deviation.c_opt(w_i, 3.0 * w_i, c_max=2.0), 2.0, 0.0105)  # the grid's end (+ refinement)
        self.assertNear(deviation.c_opt(w_i, 3.0 * w_i, c_max=3.5), 3.0, 1e-9)
        self.assertNear(deviation.c_opt(w_i, -0.9 * w_i, c_min=-0.5), -0.5, 0.0105)
        self.assertBetween(deviation.c_opt(w_i, -1.2 * w_i, c_min=-1.0), -1.0105, -1.0)  # starts at c_min
        with self.assertRaisesRegex(ValueError, "c_opt needs more than 10 points, got 10"):
            deviation.c_opt(w_i[:10], w_i[:10])

    def test_c_opt_subsamples_to_max_points(self):
        """Above max_points the slope comes from a seeded subsample: the same seed gives the same
        answer, and the answer is still the planted slope."""
        w_i = uniform_init(seed=9, n=5000)
        w_f = 0.7 * w_i + np.random.default_rng(10).normal(0, 0.002, 5000)
        a = deviation.c_opt(w_i, w_f, max_points=1000, seed=1)
        self.assertEqual(a, deviation.c_opt(w_i, w_f, max_points=1000, seed=1))
        self.assertNear(a, 0.7, 0.02)

    def test_default_window_and_seeded_subsample(self):
        self.assertEqual([deviation.default_window(n) for n in (5, 1099, 1100, 2000, 40_000)], [10, 10, 11, 20, 400])
        w_i = uniform_init(seed=11, n=2000)
        w_f = 0.6 * w_i + np.random.default_rng(12).normal(0, 0.01, 2000)
        keep = np.random.default_rng(0).choice(2000, size=1000, replace=False)  # seed 0, no repeats
        self.assertEqual(deviation.c_opt(w_i, w_f, max_points=1000),
                         deviation.c_opt(w_i[keep], w_f[keep], max_points=1000))
        self.assertEqual(deviation.c_opt(w_i, w_f, window=20), deviation.c_opt(w_i, w_f))

    @parameterized.parameters(2.5, -0.8)
    def test_c_opt_default_range_is_minus_half_to_two(self, slope):
        w_i = uniform_init(seed=13, n=2000)
        found = deviation.c_opt(w_i, slope * w_i)
        if slope > 2.0:
            self.assertBetween(found, 2.0, 2.01 + 1e-9)  # the grid reaches 2.00, refined up to 2.01
        else:
            self.assertBetween(found, -0.5105, -0.5)

    def test_float32_weights_are_fitted_in_double_precision(self):
        """Snapshots hold float32: every fit must equal the fit of the same values as float64."""
        w_i = uniform_init(seed=14, n=4000).astype(np.float32)
        w_f = (0.9 * w_i + np.random.default_rng(15).normal(0, 0.003, 4000)).astype(np.float32)
        self.assertEqual(deviation.fit(w_i, w_f), deviation.fit(w_i.astype(np.float64), w_f.astype(np.float64)))
        self.assertEqual(deviation.second_moment_fit(w_i, w_f),
                         deviation.second_moment_fit(w_i.astype(np.float64), w_f.astype(np.float64)))
        self.assertEqual(deviation.c_opt(w_i, w_f, window=2),
                         deviation.c_opt(w_i.astype(np.float64), w_f.astype(np.float64), window=2))
        table32 = deviation.binned_quantiles(w_i, w_f, bins=7)
        table64 = deviation.binned_quantiles(w_i.astype(np.float64), w_f.astype(np.float64), bins=7)
        self.assertTrue(table32.equals(table64))
        self.assertAllEqual(deviation.sigma(np.float32(0.1), (0.0, 1.0), (0.0, 0.0, 1.1)),
                            deviation.sigma(np.float64(np.float32(0.1)), (0.0, 1.0), (0.0, 0.0, 1.1)))

    def test_fit_collects_every_quantity(self):
        w_i = uniform_init(seed=16, n=3000)
        w_f = 0.02 + 0.9 * w_i + np.random.default_rng(17).normal(0, 0.004, 3000)
        for uniform in (False, True):
            result = deviation.fit(w_i.reshape(30, 100), w_f.reshape(30, 100), uniform=uniform, window=25)
            a = deviation.mean_fit(w_i, w_f, uniform)
            b = deviation.second_moment_fit(w_i, w_f, uniform)
            self.assertEqual(result, deviation.DeviationFit(
                n=3000, a0=a[0], a1=a[1], b0=b[0], b1=b[1], b2=b[2], sigma0=float(deviation.sigma(0.0, a, b)),
                c_opt=deviation.c_opt(w_i, w_f, window=25)))
        self.assertNotEqual(deviation.second_moment_fit(w_i, w_f, True), deviation.second_moment_fit(w_i, w_f))
        self.assertEqual(result.as_dict("/hidden_1")["c_opt/hidden_1"], result.c_opt)
        self.assertEqual(list(result.as_dict()), ["n", "a0", "a1", "b0", "b1", "b2", "sigma0", "c_opt"])

    def test_sigma_is_eq_b4(self):
        """sigma(w) = sqrt(b0 + b1 w + b2 w^2 - (a0 + a1 w)^2), and 0 where that is negative."""
        a, b = (0.1, 0.2), (1.0, 0.3, 0.4)
        self.assertNear(float(deviation.sigma(0.5, a, b)), np.sqrt(1.0 + 0.15 + 0.1 - 0.2 ** 2), 1e-12)
        self.assertEqual(float(deviation.sigma(0.0, (2.0, 0.0), (1.0, 0.0, 0.0))), 0.0)

    def test_peak_density(self):
        self.assertEqual(deviation.peak_density(np.array([0.0, 1.0, 1.5, 1.75, 5.0]), 2), 2 / 0.75)
        self.assertEqual(deviation.peak_density(np.array([3.0, 0.0, 0.0, 1.0]), 1), np.inf)

    def test_uniform_cumulative_is_eq_b2(self):
        """Eq. (B.2): (max - min) / N * cumulative sum, at the sorted w_i."""
        w_i = np.array([0.3, -0.1, 0.1, 0.5])
        w, big_w = deviation.cumulative(w_i, 2 * w_i, uniform=True)
        self.assertAllClose(w, [-0.1, 0.1, 0.3, 0.5])
        self.assertAllClose(big_w, 0.6 / 4 * np.cumsum([-0.2, 0.2, 0.6, 1.0]))
        w, big_w = deviation.cumulative(w_i, np.ones(4))
        self.assertAllClose(big_w, [0.1, 0.3, 0.5, 0.6])  # spacing-weighted: half gaps to the neighbours

    def test_pooled_layers_need_the_spacing_weighted_sum(self):
        """Two layers of different ranges: eq. (B.2)'s constant step biases a1; local spacing does not."""
        w_i = np.concatenate([uniform_init(0, 0.05, N), uniform_init(1, 0.15, N // 4)])
        w_f = 0.95 * w_i
        self.assertNear(deviation.mean_fit(w_i, w_f, uniform=False)[1], 0.95, 0.005)
        self.assertGreater(abs(deviation.mean_fit(w_i, w_f, uniform=True)[1] - 0.95), 0.1)

    def test_binned_quantiles(self):
        w_i = uniform_init()
        noise = np.random.default_rng(5).uniform(-0.01, 0.01, N)  # IQR of U(-0.01, 0.01) is 0.01
        self.assertLen(deviation.binned_quantiles(w_i, w_i), 50)  # the default
        table = deviation.binned_quantiles(w_i, 2 * w_i + noise, bins=20)
        self.assertLen(table, 20)
        self.assertEqual(int(table["count"].sum()), N)
        self.assertAllClose(table["median"], 2 * table["w_i_centre"], atol=0.002)
        flat = deviation.binned_quantiles(w_i, 0.05 + noise, bins=20)
        self.assertAllClose(flat["q75"] - flat["q25"], np.full(20, 0.01), atol=0.0015)
        self.assertAllClose(flat["median"], np.full(20, 0.05), atol=0.0015)
        self.assertAllClose(table["w_i_low"].iloc[1:], table["w_i_high"].iloc[:-1])  # adjacent bins
        self.assertAllClose(table["w_i_centre"], (table["w_i_low"] + table["w_i_high"]) / 2)
        self.assertEqual(table["w_i_low"].iloc[0], w_i.min())
        self.assertEqual(table["w_i_high"].iloc[-1], w_i.max())

    def test_empty_bins_are_nan_and_extremes_land_in_the_end_bins(self):
        table = deviation.binned_quantiles(np.array([0.0, 0.1, 1.0]), np.array([5.0, 6.0, 7.0]), bins=4)
        self.assertEqual(list(table["count"]), [2, 0, 0, 1])
        self.assertTrue(table[["median", "q25", "q75"]].iloc[1:3].isna().all().all())
        self.assertEqual(list(table["median"].iloc[[0, 3]]), [5.5, 7.0])


if __name__ == "__main__":
    tf.test.main()
