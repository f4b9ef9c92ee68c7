"""Every registered figure (keras_initstudy.figures), drawn in-process from small real runs:
a jesus2021 sweep with masks and snapshots, a schicho2022 sweep with gradient quantiles, a
replicated-features table, a pruning sweep over initialisations, rewind steps and a branch,
and a telemetry run. The entry point's command line and its one-line errors too."""
import os
import subprocess
import sys

import pandas as pd
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import config, datasets, figures, grid, replicate_features, rundir, runners, sweep, train_runner
from keras_initstudy.figures import lottery, schicho2022
from keras_initstudy.pruning.config import PruneExperimentConfig
from tests.class_tempdir import ClassTempDirTestCase

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG = b"\x89PNG\r\n\x1a\n"
QUIET = dict(snapshots="none", weight_images=False, correlations=False)


def sweep_table(out, name, base, axes, runner="train"):
    """Runs the grid (as `sweep` does) and writes its table; returns the table's path."""
    config_cls = PruneExperimentConfig if runner == "prune" else config.ExperimentConfig
    configs = grid.expand(base.replace(experiment=name, output_dir=out), grid.parse_axes(axes, config_cls))
    run_dirs, failures = sweep.run_grid(configs, runner, progress=False)
    assert not failures, failures
    path = os.path.join(out, f"{name}-table.parquet")
    runners.get(runner).table(run_dirs).to_parquet(path)
    return path


# figure -> (inputs, options), from the class's fixtures
INPUTS = {
    "jesus2021/fig1": lambda c: (os.path.join(c.out, "t-*"), {"panels": 3}),
    "jesus2021/fig2": lambda c: (c.jesus, {}),
    "jesus2021/fig3": lambda c: (os.path.join(c.out, "t-*"), {}),
    "jesus2021/fig5": lambda c: (c.jesus, {}),
    "jesus2021/fig6": lambda c: (c.jesus, {"thetas": "2.0,1.0"}),
    "jesus2021/figA": lambda c: (c.jesus, {}),
    "schicho2022/curves": lambda c: (c.schicho, {"print": True}),
    "schicho2022/gradients": lambda c: (os.path.join(c.out, "z-*"), {}),
    "blumenfeld2020/fig1": lambda c: (c.replicated, {}),
    "wijnja2020/fig2": lambda c: (c.lottery, {}),
    "wijnja2020/fig3": lambda c: (c.lottery, {}),
    "frankle2020/fig1": lambda c: (c.lottery, {}),
    "frankle2020/fig4": lambda c: (c.lottery, {"print": True}),
    "frankle2020/pretraining": lambda c: (c.lottery, {}),
    "frankle2020/fig3": lambda c: (c.telemetry, {}),
    "frankle2020/timeline": lambda c: (f"{c.telemetry},{c.lottery}", {}),
}


class EveryFigureTest(ClassTempDirTestCase, parameterized.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.jesus = sweep_table(cls.out, "t", config.ExperimentConfig().replace(
            epochs=3, mask="a", snapshots="0,1,3", weight_images=False), ["width=6,12", "seed=0,1"])
        cls.schicho = sweep_table(cls.out, "z", config.ExperimentConfig().replace(
            model="schicho_fnn", fnn_hidden="16", epochs=2, optimizer="adam", learning_rate=0.001,
            validation_split=0.1, gradient_steps=3, **QUIET), ["init_scheme=torch_default,zeros_normal_bias"])
        cls.lottery = sweep_table(cls.out, "p", PruneExperimentConfig().replace(
            width=16, steps=15, rounds=2, branches="init", **QUIET),
            ["kernel_initializer=xavier_normal,kaiming_uniform", "rewind=0it,5it", "seed=0,1"], runner="prune")
        cls.telemetry = train_runner.run(config.ExperimentConfig().replace(
            experiment="e", output_dir=cls.out, steps=15, telemetry=True, telemetry_window="10it",
            telemetry_eval_every="5it", **QUIET), verbose=0)
        data = datasets.load("fashion_mnist_mini")
        cls.replicated = os.path.join(cls.out, "replicated.csv")
        pd.DataFrame([replicate_features.train_one(data, unique, 2, 0.0, seed, 10, 128, 0.1)
                      for unique in (2, 4) for seed in (0, 1)]).to_csv(cls.replicated, index=False)

    def test_every_registered_figure_has_inputs_here(self):
        self.assertEqual(sorted(INPUTS), sorted(figures.names()))

    @parameterized.named_parameters((name.replace("/", "_"), name) for name in sorted(INPUTS))
    def test_draws(self, name):
        inputs, options = INPUTS[name](type(self))
        if name == "frankle2020/timeline":
            out = os.path.join(self.out, "timeline.txt")
            text = figures.draw(name, inputs, out, **options)
            self.assertIn("per-iteration window: steps 0..10", text)
            self.assertIn("sign_changed_pct", text)
            self.assertRegex(text, r"rewinding works from k = (0|5) iterations")
            with open(out) as f:
                self.assertEqual(f.read(), text + "\n")
            return
        out = os.path.join(self.out, name.replace("/", "_") + ".png")
        figures.draw(name, inputs, out, **options)
        with open(out, "rb") as f:
            self.assertEqual(f.read(8), PNG)

    def test_the_schicho_table_has_validation_columns_and_the_scheme(self):
        table = pd.read_parquet(self.schicho)
        self.assertContainsSubset({"init_scheme", "bias_scale", "validation_accuracy", "validation_loss",
                                   "test_accuracy"}, table.columns)
        self.assertEqual(sorted(table["init_scheme"].unique()), ["torch_default", "zeros_normal_bias"])

    def test_a_run_in_two_tables_counts_once(self):
        copy = os.path.join(self.out, "copy-table.parquet")
        pd.read_parquet(self.schicho).to_parquet(copy)
        table = figures.Inputs(f"{self.schicho},{copy}").table(dedup=("run_name", "epoch"))
        finals = schicho2022.final_accuracies(schicho2022.with_labels(table[table["epoch"] > 0]))
        self.assertEqual(finals.loc["torch_default", "seeds"], 1)
        self.assertIn("validation_accuracy_mean", finals.columns)
        self.assertIn("zeros_normal_bias x 1", finals.index)

    def test_output_folders_stand_for_their_runs(self):
        self.assertEqual(figures.Inputs(self.out).run_dirs(lambda d: d.gradients),
                         sorted(d for d in rundir.runs_in(self.out) if os.path.basename(d).startswith("z-")))

    def test_the_command_line_draws_and_bad_input_gets_one_line(self):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        png = os.path.join(self.out, "cli.png")
        result = subprocess.run([sys.executable, "-m", "keras_initstudy.figures", "jesus2021/fig6",
                                 f"--inputs={self.jesus}", "--thetas=2.0", f"--out={png}"],
                                capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, f"wrote {png}\n")
        for args, message in (
                (["jesus2021/fig2", "--inputs=/nonexistent.parquet", "--out=x.png"],
                 "figures: error: no table at /nonexistent.parquet; run keras_initstudy.sweep first"),
                (["frankle2020/fig3", f"--inputs={self.out}/nothing-here", "--out=x.png"],
                 f"figures: error: no run directory at {self.out}/nothing-here"),
                (["schicho2022/gradients", f"--inputs={self.jesus}", "--out=x.png"],
                 "figures: error: no run directory with gradients.csv"),
                (["jesus2021/fig5", f"--inputs={self.jesus}"], "figures: error: jesus2021/fig5 draws a figure"),
                (["jesus2021/fig9", "--inputs=x"], "figures: error: unknown figure 'jesus2021/fig9'"),
                (["jesus2021/fig2", f"--inputs={self.jesus}", "--seeds=3"], "figures: error: Unknown command")):
            with self.subTest(args[0]):
                bad = subprocess.run([sys.executable, "-m", "keras_initstudy.figures", *args], capture_output=True,
                                     text=True, env=env, cwd=ROOT, timeout=300)
                self.assertEqual(bad.returncode, 1, bad.stderr)
                self.assertStartsWith(bad.stderr.strip().splitlines()[-1], message)
                self.assertNotIn("Traceback", bad.stderr)


class LotteryErrorBarsTest(tf.test.TestCase):

    def test_error_bars_are_half_the_std_for_paper_003s_figures(self):
        """The authors' code plots yerr/2; the legend says which bars are drawn."""
        rows = [{"run_name": f"r{seed}", "round": r, "fraction_remaining": 0.8 ** r, "branch": "trunk",
                 "kernel_initializer": "xavier_normal", "rewind": "0it", "test_accuracy": 0.9 + 0.02 * seed}
                for seed in (0, 1) for r in (0, 1)]
        table = pd.DataFrame(rows)
        std = 100 * 0.01  # accuracies 0.90 and 0.92: std 0.01 (ddof 0), in percent
        defaults = figures.get("wijnja2020/fig3").defaults()
        for group, bars, expected, legend in (
                ("kernel_initializer", "paper", std, "mean ± std / 2 (as paper 003's figures) over seeds"),
                ("rewind", "paper", 2 * std, "mean ± std over seeds"),
                ("kernel_initializer", "std", 2 * std, "mean ± std over seeds")):
            options = type("O", (), {**defaults, "group": group, "error_bars": bars})
            ax = lottery.accuracy_figure(table, options).axes[0]
            segment = ax.collections[0].get_segments()[0]
            self.assertAlmostEqual(float(segment[1][1] - segment[0][1]), expected, places=4)
            self.assertEqual(ax.get_legend().get_title().get_text(), legend)


class SchichoCurvesSplitTest(tf.test.TestCase):
    """Paper 001's curves are test accuracy and loss (the authors' test_after_epoch=True); validation on request."""

    def test_test_by_default_validation_on_request(self):
        rows = [{"run_name": f"r{seed}", "init_scheme": "zeros_normal_bias", "bias_scale": 1.0, "epoch": epoch,
                 "test_accuracy": 0.5 + 0.1 * epoch, "test_loss": 1.0 / epoch, "validation_accuracy": 0.4,
                 "validation_loss": 2.0} for seed in (1, 2) for epoch in (1, 2)]
        self.assertEqual(figures.get("schicho2022/curves").defaults()["split"], "test")
        for split, labels, values in (("test", ["test_accuracy", "test_loss"], [0.6, 0.7]),
                                      ("validation", ["validation_accuracy", "validation_loss"], [0.4, 0.4])):
            fig = schicho2022.curves(pd.DataFrame(rows), split)
            self.assertEqual([ax.get_ylabel() for ax in fig.axes], labels)
            self.assertAllClose(fig.axes[0].lines[0].get_ydata(), values)


if __name__ == "__main__":
    tf.test.main()
