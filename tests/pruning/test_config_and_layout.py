"""The pruning settings (pruning/config.py): defaults from paper 003, every cross-field
check with its message, the identity that names a pruning run; and where rounds and
branches live (pruning/layout.py)."""
import os
import tempfile

import numpy as np

import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import config, rundir, settings
from keras_initstudy.pruning import layout, perturb, strategies
from keras_initstudy.pruning import masks as masks_lib
from tests.class_tempdir import TempDirTestCase
from keras_initstudy.pruning.config import PruneConfig, PruneExperimentConfig


class PruneConfigTest(tf.test.TestCase, parameterized.TestCase):

    def test_defaults_are_paper_003s(self):
        p = PruneConfig()
        self.assertEqual((p.rounds, p.prune_fraction, p.strategy, p.rewind, p.prune_rounding), (20, 0.2, "layerwise",
                                                                                               "init", "ceil"))
        self.assertEqual(p.output_fraction(), 0.1)  # half the fraction, as Frankle & Carbin
        self.assertEqual(PruneConfig(prune_output_fraction=0.0).output_fraction(), 0.0)
        self.assertEqual(PruneConfig(prune_fraction=0.5).output_fraction(), 0.25)

    @parameterized.parameters(("init", 10, 0), ("0", 10, 0), ("500it", 10, 500), ("2ep", 10, 20), ("1ep5it", 7, 12))
    def test_rewind_step(self, rewind, per_epoch, step):
        self.assertEqual(PruneConfig(rewind=rewind).rewind_step(per_epoch), step)

    def test_branch_names_keep_order_and_drop_repeats_and_blanks(self):
        p = PruneConfig(branches=" shuffle_layer, random ,,shuffle_layer")
        self.assertEqual(p.branch_names(), ["shuffle_layer", "random"])
        self.assertEqual(PruneConfig().branch_names(), [])

    @parameterized.parameters(
        (dict(pretrain="blur", rewind="2ep"), "--pretrain rewinds to the end of pre-training: --rewind=2ep must be "
                                              "0 (or init) with it"),
        (dict(sparse_pretrain=True), "--sparse_pretrain needs --pretrain"),
        (dict(pretrain="blur", sparse_pretrain=True, branches="random"),
         "--branches re-initialise the rewind point, which --sparse_pretrain replaces by each round's own "
         "pre-training: use one or the other"))
    def test_cross_field_checks(self, values, message):
        with self.assertRaises(settings.ConfigError) as raised:
            PruneConfig(**values)
        self.assertEqual(str(raised.exception), message)

    @parameterized.parameters(dict(pretrain="blur", rewind="0"), dict(pretrain="rotation", rewind="init"),
                              dict(pretrain="blur", sparse_pretrain=True), dict(branches="random,shuffle_layer"))
    def test_accepted(self, **values):
        self.assertEqual(PruneConfig(**values).pretrain, values.get("pretrain", "none"))

    @parameterized.parameters(dict(branches="none"), dict(branches="nope"), dict(rewind="soon"), dict(rewind="2x"))
    def test_bad_values(self, **values):
        with self.assertRaises(settings.ConfigError):
            PruneConfig(**values)

    def test_identity(self):
        identity = settings.identity(PruneConfig(rewind="0ep", branches="random"))
        self.assertEqual(identity["rewind"], "0it")  # every spelling of step 0 names one run
        self.assertEqual(identity["prune_output_fraction"], 0.1)  # the resolved value
        self.assertNotIn("branches", identity)  # branches added later keep the run
        for same in ("init", "0", "0it"):
            self.assertEqual(settings.identity(PruneConfig(rewind=same)), settings.identity(PruneConfig()))
        self.assertEqual(settings.identity(PruneConfig(rewind="2ep"))["rewind"], "2ep")
        self.assertEqual(settings.identity(PruneConfig(prune_output_fraction=0.1)), settings.identity(PruneConfig()))

    def test_experiment_config(self):
        cfg = PruneExperimentConfig()
        self.assertEqual(cfg.experiment_name(), f"prune_mlp_{cfg.data.dataset}")
        self.assertEqual(cfg.replace(experiment="x").experiment_name(), "x")
        self.assertEqual(cfg.identity()["runner"], "prune")
        self.assertEqual(cfg.non_default_identity(), {"runner": "prune"})
        self.assertNotEqual(cfg.run_hash(), config.ExperimentConfig().run_hash())  # never a training run's directory
        changed = cfg.replace(rounds=3, width=64).non_default_identity()
        self.assertEqual(changed, {"runner": "prune", "rounds": 3, "width": 64})


class LayoutTest(tf.test.TestCase):

    def test_round_and_branch_directories(self):
        self.assertEqual(rundir.at("/r").round(3), "/r/round-03")
        self.assertEqual(rundir.at("/r").round(12).branch("random"), "/r/round-12/branches/random")

    def test_pending_branches_and_completion(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        run_dir = folder.name
        cfg = PruneExperimentConfig().replace(rounds=3, branches="random,shuffle_layer")
        everything = [(1, "random"), (1, "shuffle_layer"), (2, "random"), (2, "shuffle_layer")]
        self.assertEqual(layout.pending_branches(cfg, run_dir), everything)  # not round 0
        rundir.at(run_dir).mark_done()
        self.assertFalse(layout.is_complete(cfg, run_dir))
        for r, name in everything[:3]:
            os.makedirs(rundir.at(run_dir).round(r).branch(name))
            rundir.at(run_dir).round(r).branch(name).mark_done()
        self.assertEqual(layout.pending_branches(cfg, run_dir), [(2, "shuffle_layer")])
        os.makedirs(rundir.at(run_dir).round(2).branch("shuffle_layer"))
        rundir.at(run_dir).round(2).branch("shuffle_layer").mark_done()
        self.assertTrue(layout.is_complete(cfg, run_dir))
        rundir.at(run_dir).clear_done()
        self.assertFalse(layout.is_complete(cfg, run_dir))  # the trunk too
        self.assertTrue(layout.is_complete(cfg.replace(branches=""), run_dir) is False)


if __name__ == "__main__":
    tf.test.main()


class MasksUnitTest(TempDirTestCase):
    """pruning/masks.py, perturb.py and strategies.py piece by piece."""

    def spec(self):
        from keras_initstudy import config as config_lib, models
        from keras_initstudy.datasets import base as datasets_base
        cfg = config_lib.ExperimentConfig().replace(width=6)
        return models.build(cfg.model, datasets_base.DatasetInfo("t", 3, (2, 2, 1), tuple("abc")),
                            models.Seeds(0, 0))

    def test_masks_are_float32_non_trainable_variables_named_after_their_weight(self):
        spec = self.spec()
        masks = masks_lib.Masks.attach(spec, layers=["output"], include_biases=True)
        self.assertEqual(sorted(masks.masks), ["output/bias", "output/kernel"])
        variable = masks.masks["output/kernel"]
        self.assertFalse(variable.trainable)
        self.assertEqual(variable.dtype, tf.float32)
        self.assertEqual(variable.name.split(":")[0], "output_kernel_mask")
        fresh = self.spec()
        self.assertEqual(masks_lib.Masks.attach(fresh).masks.keys(), {f"{n}/kernel" for n in fresh.prunable})
        with self.assertRaisesRegex(ValueError, "^output/kernel already has a constraint; a mask would replace it$"):
            masks_lib.Masks({"output/kernel": spec.model.get_layer("output").kernel})
        self.assertEqual(masks.counts(), {"output/kernel": (18, 18), "output/bias": (3, 3)})
        with self.assertRaisesRegex(ValueError, r"^masks for \['output/kernel'\], expected \['output/bias', "
                                                r"'output/kernel'\]$"):
            masks.assign({"output/kernel": np.ones((6, 3))})
        masks.assign({"output/kernel": np.eye(6, 3), "output/bias": [True, False, True]})
        self.assertEqual(masks.counts(), {"output/kernel": (3, 18), "output/bias": (2, 3)})
        self.assertEqual(masks.numpy()["output/bias"].dtype, bool)
        self.assertAllEqual(spec.model.get_layer("output").bias.numpy()[1], 0.0)

    def test_saved_masks_are_boolean(self):
        path = os.path.join(self.dir, "mask.npz")
        self.assertFalse(masks_lib.exists(path))
        masks_lib.save(path, {"k": np.array([[1.0, 0.0]])})
        self.assertTrue(masks_lib.exists(path))
        self.assertEqual(rundir.read_npz(path)["k"].dtype, bool)
        rundir.write_npz(path, {"k": np.array([[1.0, 0.0]], np.float32)})  # an older float file
        self.assertEqual(masks_lib.load(path)["k"].dtype, bool)

    def test_signs_groups_and_the_shuffle_kernel_check(self):
        values = np.array([0.0, -0.0, -2.0, 3.0], np.float32)
        signs = perturb._signs(values)
        self.assertAllEqual(signs, [1.0, 1.0, -1.0, 1.0])  # a zero counts as +
        self.assertEqual(signs.dtype, np.float32)
        self.assertEqual(perturb.layer_groups((2, 3)).dtype, np.int64)
        conv1d = perturb.kernel_groups((2, 3, 4))  # (width, in, out): one group per (in, out) slice
        self.assertAllEqual(conv1d[0], np.arange(12).reshape(3, 4))
        self.assertAllEqual(conv1d[1], conv1d[0])
        self.assertAllEqual(perturb.kernel_groups((2, 3)), [[0, 1, 2], [3, 4, 5]])
        perturb.check("shuffle_kernel", {"conv": (5, 3, 4), "dense": (4, 2)})  # a 1-D convolution is enough
        self.assertEqual(perturb.names()[:3], ("init", "init_magnitudes", "init_signs"))

    def test_strategies_take_a_zero_fraction_and_float_masks(self):
        weights = {"hidden_1/kernel": np.array([[0.5, -0.1], [0.3, 2.0]], np.float32),
                   "stage1/conv/kernel": np.array([0.4, 0.2, 0.9])}
        masks = {"hidden_1/kernel": np.ones((2, 2), np.float32), "stage1/conv/kernel": np.array([1.0, 1.0, 0.0])}
        unchanged = strategies.Layerwise(0.0).prune(weights, masks, "output")
        self.assertAllEqual(unchanged["hidden_1/kernel"], np.ones((2, 2), bool))
        pruned = strategies.Layerwise(0.5, output_fraction=0.0).prune(weights, masks, "stage1/conv")
        self.assertEqual(pruned["hidden_1/kernel"].dtype, bool)
        self.assertAllEqual(pruned["hidden_1/kernel"], [[True, False], [False, True]])
        self.assertAllEqual(pruned["stage1/conv/kernel"], [True, True, False])  # the output layer: fraction 0
        self.assertEqual(strategies.layer_of("stage1/conv/kernel"), "stage1/conv")
        global_ = strategies.Global(0.5, output_fraction=0.0).prune(weights, masks, "stage1/conv")
        self.assertEqual({n: m.dtype for n, m in global_.items()}, {n: bool for n in masks})
        self.assertAllEqual(global_["hidden_1/kernel"], [[True, False], [False, True]])
        self.assertAllEqual(global_["stage1/conv/kernel"], [True, True, False])  # left alone, as booleans
        with self.assertRaisesRegex(ValueError, r"^prune fraction must be in \[0, 1\), got 1.0$"):
            strategies.Layerwise(1.0)
