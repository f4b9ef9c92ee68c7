"""The pruning settings (pruning/config.py): defaults from paper 003, every cross-field
check with its message, the identity that names a pruning run; and where rounds and
branches live (pruning/layout.py)."""
import os
import tempfile

import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import config, rundir, settings
from keras_initstudy.pruning import layout
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
        identity = PruneConfig(rewind="0ep", branches="random").identity()
        self.assertEqual(identity["rewind"], "0it")  # every spelling of step 0 names one run
        self.assertEqual(identity["prune_output_fraction"], 0.1)  # the resolved value
        self.assertNotIn("branches", identity)  # branches added later keep the run
        for same in ("init", "0", "0it"):
            self.assertEqual(PruneConfig(rewind=same).identity(), PruneConfig().identity())
        self.assertEqual(PruneConfig(rewind="2ep").identity()["rewind"], "2ep")
        self.assertEqual(PruneConfig(prune_output_fraction=0.1).identity(), PruneConfig().identity())

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
        self.assertEqual(layout.round_dir("/r", 3), "/r/round-03")
        self.assertEqual(layout.branch_dir("/r", 12, "random"), "/r/round-12/branches/random")

    def test_pending_branches_and_completion(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        run_dir = folder.name
        cfg = PruneExperimentConfig().replace(rounds=3, branches="random,shuffle_layer")
        everything = [(1, "random"), (1, "shuffle_layer"), (2, "random"), (2, "shuffle_layer")]
        self.assertEqual(layout.pending_branches(cfg, run_dir), everything)  # not round 0
        rundir.mark_done(run_dir)
        self.assertFalse(layout.is_complete(cfg, run_dir))
        for r, name in everything[:3]:
            os.makedirs(layout.branch_dir(run_dir, r, name))
            rundir.mark_done(layout.branch_dir(run_dir, r, name))
        self.assertEqual(layout.pending_branches(cfg, run_dir), [(2, "shuffle_layer")])
        os.makedirs(layout.branch_dir(run_dir, 2, "shuffle_layer"))
        rundir.mark_done(layout.branch_dir(run_dir, 2, "shuffle_layer"))
        self.assertTrue(layout.is_complete(cfg, run_dir))
        rundir.clear_done(run_dir)
        self.assertFalse(layout.is_complete(cfg, run_dir))  # the trunk too
        self.assertTrue(layout.is_complete(cfg.replace(branches=""), run_dir) is False)


if __name__ == "__main__":
    tf.test.main()
