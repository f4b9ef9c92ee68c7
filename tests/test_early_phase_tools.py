"""Paper 004's pruning sweep end to end at tiny scale (rewind steps with branches, a branch
added later), and the timeline's flattening rule (figures/frankle2020.py; every figure is
drawn in test_figures.py)."""
import os

import numpy as np
import pandas as pd
import tensorflow as tf

from tests.class_tempdir import ClassTempDirTestCase
from tests.test_sweep_and_figures import run

from keras_initstudy.figures import frankle2020


class FlatteningRuleTest(tf.test.TestCase):

    def test_a_saturating_curve_flattens_where_its_rate_falls_below_the_threshold(self):
        step = np.arange(1001)
        values = 1 - np.exp(-step / 100.0)  # rate e^(-t/100)/100: 10% of the fastest at t = 100 ln 10 = 230
        at = frankle2020.flattening_step(step, values, span=0.01, threshold=0.1)
        self.assertBetween(at, 225, 240)  # the running median shifts it by up to half a span

    def test_a_straight_line_never_flattens_and_noise_alone_does_not_count(self):
        step = np.arange(501)
        self.assertIsNone(frankle2020.flattening_step(step, step * 2.0, span=0.05, threshold=0.1))
        spiky = np.where(step < 100, step / 100.0, 1.0)
        spiky[[300, 301]] = 5.0  # two noisy batches late in the window
        self.assertBetween(frankle2020.flattening_step(step, spiky, span=0.05, threshold=0.1), 95, 130)


class EarlyPhaseEndToEndTest(ClassTempDirTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        common = ["--model=mlp", "--width=16", "--steps=15", "--snapshots=none", "--noweight_images",
                  "--nocorrelations", f"--output_dir={cls.out}"]
        cls.sweep_args = ["-m", "keras_initstudy.sweep", "--runner=prune", "--axis=rewind=0it,5it", "--axis=seed=0,1",
                          "--rounds=2", "--experiment=e", "--strategy=global", *common]
        cls.sweep = run(*cls.sweep_args, "--branches=init_signs,shuffle_layer")
        cls.table = os.path.join(cls.out, "e-table.parquet")

    def test_the_table_holds_trunk_and_branch_rows(self):
        self.assertEqual(self.sweep.returncode, 0, self.sweep.stderr[-3000:])
        table = pd.read_parquet(self.table)
        self.assertLen(table, 4 * (2 + 2))  # 4 runs: rounds 0, 1 of the trunk and two branches of round 1
        self.assertEqual(sorted(table["branch"].unique()), ["init_signs", "shuffle_layer", "trunk"])

    def test_a_second_sweep_with_another_branch_trains_only_that_branch(self):
        self.assertEqual(self.sweep.returncode, 0, self.sweep.stderr[-3000:])
        out = os.path.join(self.out, "again")
        import shutil
        shutil.copytree(self.out, out, ignore=shutil.ignore_patterns("again"))
        args = [a if not a.startswith("--output_dir=") else f"--output_dir={out}" for a in self.sweep_args]
        result = run(*args, "--branches=init_signs,shuffle_layer,init")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn("adding branches init", result.stdout)
        self.assertNotRegex(result.stdout, r"round \d+ of")  # no trunk round trains again
        table = pd.read_parquet(os.path.join(out, "e-table.parquet"))
        self.assertEqual(sorted(table["branch"].unique()), ["init", "init_signs", "shuffle_layer", "trunk"])

if __name__ == "__main__":
    tf.test.main()
