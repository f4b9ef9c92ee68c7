"""The pruning-with-rewind loop on real (embedded) data, deterministic: counts per round,
exact zeros, rewinding to w(k) on the surviving positions, resume of a killed loop."""
import math
import os

import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from keras_initstudy import callbacks, datasets, rundir, steps
from keras_initstudy.pruning import masks as masks_lib
from keras_initstudy.pruning import rounds
from keras_initstudy.pruning.config import PruneExperimentConfig
from tests.helpers import InterruptAtStep

PER_EPOCH = 47
BASE = dict(model="lenet_300_100", optimizer="adam", learning_rate=0.0012, epochs=1, rounds=3,
            nondeterminism="deterministic", weight_images=False, correlations=False, rmsd=False)


def round_file(run_dir, r, name):
    return os.path.join(rundir.at(run_dir).round(r), name)


class RoundsTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = datasets.load("fashion_mnist_mini")
        cls.out = os.path.join(tf.compat.v1.test.get_temp_dir(), "rounds")
        cls.init_cfg = PruneExperimentConfig().replace(output_dir=cls.out, snapshots="0", **BASE)
        cls.init_run = rounds.run(cls.init_cfg, verbose=0, dataset=cls.data)
        cls.k_cfg = PruneExperimentConfig().replace(output_dir=cls.out, rewind="20it", snapshots="20it",
                                                    strategy="global", momentum=0.9,
                                                    **{**BASE, "optimizer": "sgd", "learning_rate": 0.05})
        cls.k_run = rounds.run(cls.k_cfg, verbose=0, dataset=cls.data)
        tf_config.disable_op_determinism()

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def test_layerwise_counts_follow_the_rule_each_round(self):
        summary = pd.read_csv(rundir.at(self.init_run).summary_table + ".csv")
        self.assertEqual(summary["round"].tolist(), [0, 1, 2])
        for name, size in (("hidden_1/kernel", 784 * 300), ("hidden_2/kernel", 300 * 100), ("output/kernel", 1000)):
            fraction = 0.1 if name.startswith("output") else 0.2  # the output layer at half the rate
            expected = [size]
            for _ in range(2):
                expected.append(expected[-1] - math.ceil(fraction * expected[-1]))
            self.assertEqual(summary[f"remaining/{name}"].tolist(), expected, name)
        self.assertEqual(summary["weights_total"].iloc[0], 266200)  # kernels only: biases are not pruned
        self.assertContainsSubset({"test_accuracy", "test_loss", "best_test_accuracy", "best_epoch",
                                   "fraction_remaining", "train_eval_accuracy", "test_accuracy/ep1"},
                                  summary.columns)

    def test_pruned_weights_are_exactly_zero_at_the_end_of_every_round(self):
        for run_dir in (self.init_run, self.k_run):
            for r in range(3):
                mask = masks_lib.load(round_file(run_dir, r, "mask.npz"))
                final = np.load(round_file(run_dir, r, "final.npz"))
                for name, m in mask.items():
                    self.assertAllEqual(final[name][~m], np.zeros(int((~m).sum()), np.float32))
                if r:
                    previous = masks_lib.load(round_file(run_dir, r - 1, "mask.npz"))
                    for name in mask:
                        self.assertFalse(np.any(mask[name] & ~previous[name]), "a pruned weight came back")

    def test_rewinding_to_init_restores_w0_on_the_survivors(self):
        w0 = np.load(rundir.at(self.init_run).round(0).snapshot(0))
        for r in (1, 2):
            start = np.load(rundir.at(self.init_run).round(r).snapshot(0))
            mask = masks_lib.load(round_file(self.init_run, r, "mask.npz"))
            for name in w0.files:
                expected = w0[name] * mask[name] if name in mask else w0[name]
                self.assertAllEqual(start[name], expected)

    def test_rewinding_to_step_k_restores_wk_and_the_optimizer_step(self):
        wk = np.load(rundir.at(self.k_run).round(0).snapshot_at(steps.Step(20, PER_EPOCH)))
        summary = pd.read_csv(rundir.at(self.k_run).summary_table + ".csv")
        summary = summary[summary["branch"] == "trunk"]  # another test may have added branches
        self.assertEqual(summary["start_step"].tolist(), [0, 20, 20])
        self.assertEqual(summary["end_step"].tolist(), [47, 47, 47])
        for r in (1, 2):
            start = np.load(rundir.at(self.k_run).round(r).snapshot_at(steps.Step(20, PER_EPOCH)))
            mask = masks_lib.load(round_file(self.k_run, r, "mask.npz"))
            for name in wk.files:
                expected = wk[name] * mask[name] if name in mask else wk[name]
                self.assertAllEqual(start[name], expected)
        remaining = summary["weights_remaining"].tolist()
        self.assertEqual(remaining[1], 266200 - math.ceil(0.2 * 266200))  # global: exactly the fraction overall

    def test_a_rewound_round_starts_from_the_saved_optimizer_state(self):
        from keras_initstudy import training
        saved = training.build(self.k_cfg, self.data.info, PER_EPOCH)
        callbacks.load_save_point(saved.model, rundir.at(self.k_run).round(0).save_points, 20)
        spec = training.build(self.k_cfg, self.data.info, PER_EPOCH)
        masks = masks_lib.Masks.attach(spec)
        masks.assign(masks_lib.load(round_file(self.k_run, 1, "mask.npz")))
        self.assertEqual(rounds.start_round(self.k_cfg, self.k_run, 1, spec, masks, 20, PER_EPOCH, "none"), 20)
        momentum = [v for v in saved.model.optimizer.variables if "momentum" in v.path]
        self.assertNotEmpty(momentum)
        for restored, expected in zip(spec.model.optimizer.variables, saved.model.optimizer.variables):
            self.assertAllEqual(restored.numpy(), expected.numpy())
        self.assertGreater(max(float(np.abs(v.numpy()).max()) for v in momentum), 0.0)

    def test_a_killed_loop_resumes_in_its_round_and_ends_as_the_uninterrupted_one(self):
        cfg = self.init_cfg.replace(output_dir=os.path.join(self.out, "killed"), checkpoint_every="10it")
        run_dir = rundir.path_for(cfg)
        with self.assertRaises(KeyboardInterrupt):
            rounds.run(cfg, extra_callbacks=[InterruptAtStep(25, when=run_dir.round(0).is_done)], verbose=0,
                       dataset=self.data)
        self.assertTrue(rundir.at(run_dir).round(0).is_done())
        self.assertFalse(rundir.at(run_dir).round(1).is_done())
        rounds.run(cfg, verbose=0, dataset=self.data)
        for r in range(3):
            a, b = np.load(round_file(run_dir, r, "final.npz")), np.load(round_file(self.init_run, r, "final.npz"))
            for name in a.files:
                self.assertAllEqual(a[name], b[name])
        self.assertEqual(pd.read_csv(rundir.at(run_dir).summary_table + ".csv")["test_accuracy"].tolist(),
                         pd.read_csv(rundir.at(self.init_run).summary_table + ".csv")["test_accuracy"].tolist())

    def test_a_pruning_run_is_not_a_training_run(self):
        self.assertStartsWith(os.path.basename(self.init_run), "prune_lenet_300_100_fashion_mnist_mini-")
        from keras_initstudy import config
        train_twin = config.ExperimentConfig().replace(**{k: v for k, v in BASE.items() if k != "rounds"})
        self.assertNotEqual(train_twin.run_hash(), self.init_cfg.run_hash())

    def test_table_has_a_row_per_run_and_round(self):
        table = rounds.table([self.init_run, self.k_run])
        table = table[table["branch"] == "trunk"]  # another test may have added branches
        self.assertLen(table, 6)
        self.assertEqual(table["rewind"].tolist(), ["init"] * 3 + ["20it"] * 3)
        self.assertContainsSubset({"kernel_initializer", "init_seed", "round", "fraction_remaining"}, table.columns)

    def test_as_released_keeps_the_optimizer_and_prunes_biases_with_floor(self):
        cfg = PruneExperimentConfig().replace(
            output_dir=os.path.join(self.out, "released"), reset_optimizer=False, prune_biases=True,
            prune_rounding="floor", prune_output_fraction=0.2, snapshots="0", **{**BASE, "rounds": 2})
        run_dir = rounds.run(cfg, verbose=0, dataset=self.data)
        summary = pd.read_csv(rundir.at(run_dir).summary_table + ".csv")
        self.assertEqual(summary["start_step"].tolist(), [0, 47])  # the step count goes on
        self.assertEqual(summary["end_step"].tolist(), [47, 94])
        self.assertEqual(summary["remaining/hidden_1/bias"].tolist(), [300, 300 - math.floor(0.2 * 300)])
        self.assertEqual(summary["remaining/output/kernel"].tolist(), [1000, 800])
        w0 = np.load(rundir.at(run_dir).round(0).snapshot(0))
        start = np.load(rundir.at(run_dir).round(1).snapshot(0)) if os.path.exists(
            rundir.at(run_dir).round(1).snapshot(0)) else None
        self.assertIsNone(start)  # round 1 starts at step 47, where no step-0 snapshot is taken
        mask = masks_lib.load(round_file(run_dir, 1, "mask.npz"))
        self.assertIn("hidden_1/bias", mask)
        self.assertAllEqual(w0["hidden_1/kernel"].shape, mask["hidden_1/kernel"].shape)

    def test_torch_default_init_rewinds_every_initialisation_of_a_seed_to_one_draw(self):
        """Paper 003's code resets pruned networks to the PyTorch-default draw it saved before applying
        the studied initialisation: the same weights for all eight methods at a seed."""
        starts = {}
        for init in ("xavier_normal", "kaiming_uniform(gain=1.4142135623730951)"):
            cfg = PruneExperimentConfig().replace(
                output_dir=os.path.join(self.out, "torch_default"), rewind="torch_default_init", snapshots="0",
                kernel_initializer=init, bias_initializer="torch_default", **{**BASE, "rounds": 2, "epochs": 1,
                                                                              "steps": 3})
            run_dir = rounds.run(cfg, verbose=0, dataset=self.data)
            w0 = np.load(rundir.at(run_dir).round(0).snapshot(0))
            start = np.load(rundir.at(run_dir).round(1).snapshot(0))
            mask = masks_lib.load(round_file(run_dir, 1, "mask.npz"))
            spec = rounds.training.build(cfg, self.data.info)
            draw = rounds.torch_default_kernels(cfg, spec)
            for name in mask:
                self.assertAllEqual(start[name], draw[name] * mask[name])
                bound = 1 / np.sqrt(w0[name].shape[0])
                self.assertBetween(float(np.abs(draw[name]).max()), 0.9 * bound, bound)
            self.assertAllEqual(start["hidden_1/bias"], w0["hidden_1/bias"])  # biases: their initial draw
            self.assertNotAllClose(w0["hidden_1/kernel"], draw["hidden_1/kernel"])  # round 0: the studied init
            starts[init] = (draw, w0)
        (draw_a, w0_a), (draw_b, w0_b) = starts.values()
        self.assertNotAllClose(w0_a["hidden_1/kernel"], w0_b["hidden_1/kernel"])
        for name in draw_a:
            self.assertAllEqual(draw_a[name], draw_b[name])

    def test_random_reinit_keeps_the_mask_and_draws_new_survivors(self):
        cfg = PruneExperimentConfig().replace(output_dir=os.path.join(self.out, "reinit"), reinit="random",
                                              snapshots="0", **{**BASE, "rounds": 2})
        run_dir = rounds.run(cfg, verbose=0, dataset=self.data)
        w0 = np.load(rundir.at(run_dir).round(0).snapshot(0))
        start = np.load(rundir.at(run_dir).round(1).snapshot(0))
        mask = masks_lib.load(round_file(run_dir, 1, "mask.npz"))
        for name, m in mask.items():
            self.assertAllEqual(start[name][~m], np.zeros(int((~m).sum()), np.float32))
            self.assertFalse(np.any(start[name][m] == w0[name][m]))  # a fresh draw
            self.assertNear(float(start[name][m].std()), float(w0[name].std()), 0.1 * float(w0[name].std()))

    def test_branches_train_on_the_trunks_masks_from_the_perturbed_rewind_point(self):
        trunk_final = np.load(round_file(self.k_run, 1, "final.npz"))["hidden_1/kernel"]
        cfg = self.k_cfg.replace(branches="init_signs,shuffle_unit")
        self.assertEqual(rundir.path_for(cfg), self.k_run)  # branches do not change the run's identity
        self.assertEqual(rounds.run(cfg, verbose=0, dataset=self.data), self.k_run)
        self.assertAllEqual(np.load(round_file(self.k_run, 1, "final.npz"))["hidden_1/kernel"], trunk_final)
        w0 = np.load(rundir.at(self.k_run).round(0).snapshot(0))
        wk = np.load(rundir.at(self.k_run).round(0).snapshot_at(steps.Step(20, PER_EPOCH)))
        for r in (1, 2):
            mask = masks_lib.load(round_file(self.k_run, r, "mask.npz"))["hidden_1/kernel"]
            signs = np.load(rundir.at(self.k_run).round(r).branch("init_signs").snapshot_at(steps.Step(20, PER_EPOCH)))["hidden_1/kernel"]
            self.assertAllEqual(np.signbit(signs[mask]), np.signbit(w0["hidden_1/kernel"][mask]))
            self.assertAllEqual(np.abs(signs[mask]), np.abs(wk["hidden_1/kernel"][mask]))
            self.assertAllEqual(signs[~mask], np.zeros(int((~mask).sum()), np.float32))
            shuffled = np.load(rundir.at(self.k_run).round(r).branch("shuffle_unit").snapshot_at(steps.Step(20, PER_EPOCH)))["hidden_1/kernel"]
            for unit in range(0, 300, 37):
                kept = mask[:, unit]
                self.assertAllEqual(np.sort(shuffled[kept, unit]), np.sort(wk["hidden_1/kernel"][kept, unit]))
            self.assertTrue(np.any(shuffled[mask] != wk["hidden_1/kernel"][mask]))
        summary = pd.read_csv(rundir.at(self.k_run).summary_table + ".csv")
        self.assertEqual(sorted(zip(summary["round"], summary["branch"])),
                         [(0, "trunk"), (1, "init_signs"), (1, "shuffle_unit"), (1, "trunk"),
                          (2, "init_signs"), (2, "shuffle_unit"), (2, "trunk")])
        self.assertTrue(rundir.at(self.k_run).is_done())
        self.assertEqual(rounds.pending_branches(cfg, self.k_run), [])

    def test_rewinding_to_iteration_500_restores_exactly_the_weights_of_iteration_500(self):
        cfg = PruneExperimentConfig().replace(
            output_dir=os.path.join(self.out, "k500"), model="mlp", width=16, steps=520, rounds=2, rewind="500it",
            snapshots="500it", optimizer="sgd", momentum=0.9, nondeterminism="deterministic", weight_images=False,
            correlations=False, rmsd=False)
        run_dir = rounds.run(cfg, verbose=0, dataset=self.data)
        at_500 = steps.Step(500, PER_EPOCH)
        w500 = np.load(rundir.at(run_dir).round(0).snapshot_at(at_500))
        start = np.load(rundir.at(run_dir).round(1).snapshot_at(at_500))  # round 1 starts there
        mask = masks_lib.load(round_file(run_dir, 1, "mask.npz"))
        for name in w500.files:
            self.assertAllEqual(start[name], w500[name] * mask[name] if name in mask else w500[name])
        summary = pd.read_csv(rundir.at(run_dir).summary_table + ".csv")
        self.assertEqual(summary["start_step"].tolist(), [0, 500])


if __name__ == "__main__":
    tf.test.main()
