"""The sweep binary end to end: skips finished runs, records failures, writes its tables
(figures drawn from such tables: test_figures.py)."""
import contextlib
import io
import os
import subprocess
import sys
from unittest import mock

import pandas as pd
import tensorflow as tf

from tests.class_tempdir import ClassTempDirTestCase
from keras_initstudy import config, executors, grid, rundir, settings, sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=ENV, cwd=ROOT,
                          timeout=600)


class SweepTest(tf.test.TestCase):

    def test_grid_records_failures_and_goes_on(self):
        base = config.ExperimentConfig().replace(output_dir=self.get_temp_dir(), epochs=1, width=4,
                                                 snapshots="none", weight_images=False)
        good = grid.expand(base, grid.parse_axes(["seed=0..1"]))
        bad = base.replace(dataset="mnist", data_dir=self.get_temp_dir(), download=False)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            run_dirs, failures = sweep.run_grid([good[0], bad, good[1]], progress=False)
        self.assertLen(run_dirs, 2)
        self.assertLen(failures, 1)
        self.assertStartsWith(failures[0]["error"], "DataError")
        self.assertEqual(failures[0]["run_name"], bad.run_name())
        # the cause is printed as it happens, not only counted
        self.assertIn(f"sweep: {bad.run_name()} failed: DataError: mnist: ", err.getvalue())
        stamp = os.path.getmtime(os.path.join(run_dirs[0], "DONE"))
        again, _ = sweep.run_grid(good, progress=False)
        self.assertEqual(again, run_dirs)
        self.assertEqual(os.path.getmtime(os.path.join(run_dirs[0], "DONE")), stamp)

    def test_a_run_another_sweep_finished_is_not_a_failure(self):
        """Two sweeps into one folder: the one that found a run locked reports it failed, but
        once the other has finished it, it is a finished run, not a failure."""
        base = config.ExperimentConfig().replace(output_dir=self.get_temp_dir(), epochs=1, width=4,
                                                 snapshots="none", weight_images=False)

        class OtherProcessFinishesIt:
            def run(self, runner_name, configs, ensemble_size=1):
                for finished in executors.LocalExecutor().run(runner_name, configs):
                    yield [(i, executors.Failure("RunInProgress: held by another process", "")) for i, _ in finished]

        with contextlib.redirect_stderr(io.StringIO()):
            run_dirs, failures = sweep.run_grid([base], executor=OtherProcessFinishesIt(), progress=False)
        self.assertEqual(failures, [])
        self.assertEqual(run_dirs, [rundir.path_for(executors.absolute_paths([base])[0])])

    def test_the_failures_file_describes_the_last_sweep_only(self):
        prefix = os.path.join(self.get_temp_dir(), "exp-failures")
        sweep.write_failures([{"run_name": "a", "error": "E"}], prefix)
        self.assertEqual(pd.read_csv(prefix + ".csv")["run_name"].tolist(), ["a"])
        sweep.write_failures([{"run_name": "b", "error": "E"}], prefix)
        self.assertEqual(pd.read_csv(prefix + ".csv")["run_name"].tolist(), ["b"])
        sweep.write_failures([], prefix)
        self.assertFalse(os.path.exists(prefix + ".csv"))
        self.assertFalse(os.path.exists(prefix + ".parquet"))
        sweep.write_failures([], prefix)  # nothing to remove: fine

    def test_progress_line(self):
        out = io.StringIO()
        progress = sweep.Progress(total=4, skipped=1, stream=out)
        progress.update(1)
        progress.update(1, failed=1)
        lines = out.getvalue().splitlines()
        self.assertRegex(lines[0], r"^sweep: 2/4 runs done \(1 already finished\), 0 failed, "
                                   r"0:00:\d\d elapsed, about 0:00:\d\d left$")
        self.assertIn("3/4 runs done (1 already finished), 1 failed", lines[1])
        self.assertIn("about unknown left", sweep.Progress(total=2, skipped=0).line())

    def test_an_ensemble_finishing_counts_at_its_members_rate(self):
        """10 seeds that trained together for 100 s: 10 more take about 100 s, not 1,900."""
        out = io.StringIO()
        with mock.patch.object(sweep.time, "perf_counter", side_effect=[0.0, 100.0]):
            progress = sweep.Progress(total=20, skipped=0, stream=out)
            progress.update(10)
        self.assertIn("10/20 runs done (0 already finished), 0 failed, 0:01:40 elapsed, about 0:01:40 left",
                      out.getvalue())


class GridTest(tf.test.TestCase):

    def test_axes_over_any_setting(self):
        base = config.ExperimentConfig()
        configs = grid.expand(base, grid.parse_axes(["width=10,25", "seed=0..2", "dataset=mnist,fashion_mnist",
                                                     "learning_rate=0.1,0.01", "augment=true,false"]))
        self.assertLen(configs, 2 * 3 * 2 * 2 * 2)
        self.assertEqual([c.model.width for c in configs[:24]], [10] * 24)  # first axis outermost
        self.assertEqual({c.training.learning_rate for c in configs}, {0.1, 0.01})
        self.assertEqual({c.training.augment for c in configs}, {True, False})

    def test_axes_over_models(self):
        configs = grid.expand(config.ExperimentConfig(), grid.parse_axes(["model=constnet,constnet_he", "seed=0,1"]))
        self.assertEqual([c.model_name for c in configs], ["constnet", "constnet", "constnet_he", "constnet_he"])

    def test_bad_axes_fail_before_anything_runs(self):
        base = config.ExperimentConfig()
        for axes, message in ((["width"], "expected name="), (["widht=3"], "not a setting"),
                              (["width=3", "width=4"], "given twice"), (["seed=3..1"], "a <= b"),
                              (["width=0,5"], "must be >= 1"), (["width=a"], "not int"),
                              (["seed=1,1"], "repeated")):
            with self.subTest(axes), self.assertRaisesRegex(settings.ConfigError, message):
                grid.expand(base, grid.parse_axes(axes))
        constnet = base.replace(model="constnet")
        with self.assertRaisesRegex(settings.ConfigError, "width does not apply to model constnet"):
            grid.expand(constnet, grid.parse_axes(["width=10,25"]))
        with self.assertRaisesRegex(settings.ConfigError, "same run"):
            grid.expand(base, grid.parse_axes(["rmsd_every_steps=0,5"]))  # an instrument: one run twice


class SweepBinaryTest(ClassTempDirTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.result = run("-m", "keras_initstudy.sweep", "--axis=width=6,12", "--axis=seed=0,1", "--epochs=3",
                         "--mask=a", "--snapshots=0,1,3", "--noweight_images", "--experiment=t",
                         f"--output_dir={cls.out}")
        cls.table = os.path.join(cls.out, "t-table.parquet")

    def test_table_has_a_row_per_run_and_epoch(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr[-3000:])
        table = pd.read_parquet(self.table)
        self.assertEqual(len(table), 4 * 4)  # 4 runs x epochs 0..3
        self.assertContainsSubset({"width", "seed", "dataset", "epoch", "loss", "test_loss", "accuracy",
                                   "test_accuracy", "rmsd", "rmsd/hidden_1", "rmsd/output", "c_opt", "a0",
                                   "a1", "sigma0", "c_opt/hidden_2"}, table.columns)
        self.assertEqual(sorted(table["width"].unique()), [6, 12])
        fitted = table.dropna(subset=["c_opt"])
        self.assertEqual(sorted(fitted["epoch"].unique()), [0, 1, 3])
        self.assertTrue((fitted[fitted["epoch"] == 0]["c_opt"] == 1.0).all())
        csv = pd.read_csv(os.path.join(self.out, "t-table.csv"))
        self.assertEqual(len(csv), len(table))

    def test_sweep_prints_progress_and_bad_grids_get_one_line(self):
        self.assertIn("sweep: 4/4 runs done (0 already finished), 0 failed", self.result.stdout)
        bad = run("-m", "keras_initstudy.sweep", "--model=constnet", "--axis=width=4,8", f"--output_dir={self.out}")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("sweep: error: width does not apply to model constnet", bad.stderr)
        self.assertNotIn("Traceback", bad.stderr)

class PruneSweepTest(ClassTempDirTestCase):
    """`sweep --runner=prune` over initialisations and seeds."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.result = run("-m", "keras_initstudy.sweep", "--runner=prune", "--model=lenet_300_100",
                         "--axis=kernel_initializer=xavier_normal,kaiming_uniform(gain=2.0)", "--axis=seed=0,1",
                         "--steps=15", "--rounds=2", "--optimizer=adam", "--learning_rate=0.0012",
                         "--snapshots=none", "--noweight_images", "--nocorrelations", "--experiment=p",
                         f"--output_dir={cls.out}")
        cls.table = os.path.join(cls.out, "p-table.parquet")

    def test_table_has_a_row_per_run_and_round(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr[-3000:])
        table = pd.read_parquet(self.table)
        self.assertLen(table, 4 * 2)
        self.assertEqual(sorted(table["kernel_initializer"].unique()), ["kaiming_uniform(gain=2.0)", "xavier_normal"])
        self.assertEqual(sorted(table["round"].unique()), [0, 1])
        # Round 1, layerwise: 20% of 235,200 and of 30,000 hidden weights, 10% of the 1,000 output weights.
        self.assertAllClose(sorted(table["fraction_remaining"].unique()),
                            [(266200 - 47040 - 6000 - 100) / 266200, 1.0], atol=1e-9)

    def test_pruning_flags_are_refused_by_the_train_runner(self):
        result = run("-m", "keras_initstudy.sweep", "--runner=train", "--rounds=3", "--axis=seed=0,1",
                     f"--output_dir={self.out}")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("sweep: error: --rounds does not apply to this runner", result.stderr)


if __name__ == "__main__":
    tf.test.main()
