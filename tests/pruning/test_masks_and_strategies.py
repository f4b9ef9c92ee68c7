"""Masks keep pruned weights exactly zero under any optimizer; strategies prune exact counts."""
import math

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import config, models
from keras_initstudy.datasets import base as datasets_base
from keras_initstudy.pruning import masks as masks_lib
from keras_initstudy.pruning import strategies

INFO = datasets_base.DatasetInfo("t", 4, (6, 6, 1), tuple("abcd"))


def tiny_spec(seed=0):
    cfg = config.ExperimentConfig().replace(width=12)
    return models.build(cfg.model, INFO, models.Seeds(seed, seed))


class MaskTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.named_parameters(
        ("sgd_momentum", lambda: keras.optimizers.SGD(0.5, momentum=0.9)),
        ("adam", lambda: keras.optimizers.Adam(0.05)),
        ("paper_sgd", lambda: __import__("keras_initstudy.optimizers", fromlist=["x"]).PaperSGD(
            0.5, momentum=0.9, coupled_weight_decay=5e-4)))
    def test_pruned_weights_stay_exactly_zero(self, make_optimizer):
        spec = tiny_spec()
        masks = masks_lib.Masks.attach(spec, include_biases=True)
        rng = np.random.default_rng(0)
        chosen = {n: rng.random(v.shape) > 0.5 for n, v in masks.variables.items()}
        spec.model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy")
        # Train unmasked first, so the optimizer's momentum/moments are large for every weight.
        masks.assign({n: np.ones_like(m) for n, m in chosen.items()})
        x = rng.random((64, 6, 6, 1), dtype=np.float32)
        y = rng.integers(0, 4, 64)
        spec.model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        masks.assign(chosen)
        spec.model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        for name, variable in masks.variables.items():
            w = variable.numpy()
            self.assertAllEqual(w[~chosen[name]], np.zeros(int((~chosen[name]).sum()), np.float32))
            self.assertEqual(int(np.count_nonzero(w[chosen[name]])), int(chosen[name].sum()))  # survivors train

    def test_masks_cover_prunable_kernels_only_by_default(self):
        spec = tiny_spec()
        self.assertEqual(list(masks_lib.Masks.attach(spec).variables),
                         ["hidden_1/kernel", "hidden_2/kernel", "output/kernel"])

    def test_save_and_load_round_trip(self):
        path = self.get_temp_dir() + "/mask.npz"
        arrays = {"a/kernel": np.eye(3, dtype=bool), "b/kernel": np.zeros((2, 2), bool)}
        masks_lib.save(path, arrays)
        loaded = masks_lib.load(path)
        for name in arrays:
            self.assertAllEqual(loaded[name], arrays[name])


def weights_and_masks(seed=0):
    rng = np.random.default_rng(seed)
    weights = {"hidden_1/kernel": rng.normal(size=(50, 40)), "hidden_2/kernel": rng.normal(size=(40, 30)),
               "output/kernel": rng.normal(size=(30, 10))}
    return weights, {n: np.ones(w.shape, bool) for n, w in weights.items()}


class StrategyTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters("ceil", "floor")
    def test_layerwise_counts_after_r_rounds(self, rounding):
        weights, masks = weights_and_masks()
        strategy = strategies.Layerwise(0.2, output_fraction=0.1, rounding=rounding)
        expected = {n: m.size for n, m in masks.items()}
        round_ = getattr(math, rounding)
        for _ in range(8):
            masks = strategy.prune(weights, masks, "output")
            for name in expected:
                fraction = 0.1 if name.startswith("output") else 0.2
                expected[name] -= int(round_(fraction * expected[name]))
                self.assertEqual(int(masks[name].sum()), expected[name], name)
        if rounding == "ceil":  # 2000 weights, 20% (rounded up) of the remaining each round
            self.assertEqual(expected["hidden_1/kernel"], 335)  # 2000, 1600, 1280, 1024, 819, 655, 524, 419, 335

    def test_layerwise_prunes_the_smallest_survivors(self):
        weights, masks = weights_and_masks()
        new = strategies.Layerwise(0.2).prune(weights, masks, "output")
        for name, w in weights.items():
            kept = np.abs(w[new[name]])
            dropped = np.abs(w[~new[name]])
            self.assertLessEqual(dropped.max(), kept.min())

    def test_global_prunes_exactly_the_fraction_and_never_a_pruned_weight_twice(self):
        weights, masks = weights_and_masks()
        total = sum(m.size for m in masks.values())
        strategy = strategies.Global(0.2)
        remaining = total
        for _ in range(5):
            new = strategy.prune(weights, masks, "output")
            for name in masks:
                self.assertFalse(np.any(new[name] & ~masks[name]), "a pruned weight came back")
            remaining -= math.ceil(0.2 * remaining)
            self.assertEqual(sum(int(m.sum()) for m in new.values()), remaining)
            masks = new
        threshold = max(np.abs(weights[n][~masks[n]]).max() for n in masks)
        self.assertLessEqual(threshold, min(np.abs(weights[n][masks[n]]).min() for n in masks))

    def test_global_can_leave_the_output_unpruned(self):
        weights, masks = weights_and_masks()
        new = strategies.Global(0.5, output_fraction=0.0).prune(weights, masks, "output")
        self.assertTrue(new["output/kernel"].all())
        self.assertEqual(sum(int(new[n].sum()) for n in ("hidden_1/kernel", "hidden_2/kernel")), 3200 - 1600)

    def test_ties_are_broken_by_position(self):
        weights = {"a/kernel": np.ones((4, 5)), "output/kernel": np.ones((5, 2))}
        masks = {n: np.ones(w.shape, bool) for n, w in weights.items()}
        for strategy in (strategies.Layerwise(0.25, 0.0), strategies.Global(0.2)):
            first = strategy.prune(weights, masks, "output")
            again = strategy.prune(weights, masks, "output")
            for name in first:
                self.assertAllEqual(first[name], again[name])
        cut = strategies.Layerwise(0.25, 0.0).prune(weights, masks, "output")["a/kernel"].ravel()
        self.assertAllEqual(np.flatnonzero(~cut), [0, 1, 2, 3, 4])  # the lowest indices go first

    def test_bad_fraction(self):
        with self.assertRaises(ValueError):
            strategies.Layerwise(1.0)


if __name__ == "__main__":
    tf.test.main()
