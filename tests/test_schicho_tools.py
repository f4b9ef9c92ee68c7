"""Paper 001 end to end at tiny scale: a sweep over initialisation schemes with a validation
split and gradient quantiles, and tools/schicho_fig.py's two figures from it."""
import os

import pandas as pd
import tensorflow as tf

from tests.class_tempdir import ClassTempDirTestCase
from tests.test_sweep_and_figures import run


class SchichoEndToEndTest(ClassTempDirTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sweep = run("-m", "keras_initstudy.sweep", "--model=schicho_fnn", "--fnn_hidden=16",
                        "--axis=init_scheme=torch_default,zeros_normal_bias", "--axis=seed=0,1", "--epochs=2",
                        "--optimizer=adam", "--learning_rate=0.001", "--validation_split=0.1", "--gradient_steps=3",
                        "--snapshots=none", "--noweight_images", "--nocorrelations", "--experiment=z",
                        f"--output_dir={cls.out}")
        cls.table = os.path.join(cls.out, "z-table.parquet")

    def test_table_has_validation_columns_and_the_scheme(self):
        self.assertEqual(self.sweep.returncode, 0, self.sweep.stderr[-3000:])
        table = pd.read_parquet(self.table)
        self.assertContainsSubset({"init_scheme", "bias_scale", "validation_accuracy", "validation_loss",
                                   "test_accuracy"}, table.columns)
        self.assertEqual(sorted(table["init_scheme"].unique()), ["torch_default", "zeros_normal_bias"])

    def test_both_figures(self):
        self.assertEqual(self.sweep.returncode, 0, self.sweep.stderr[-3000:])
        result = run("tools/schicho_fig.py", "--figure=curves", f"--tables={self.table}", "--print",
                     f"--out={self.out}/curves.png")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn("zeros_normal_bias x 1", result.stdout)
        self.assertIn("validation_accuracy_mean", result.stdout)
        result = run("tools/schicho_fig.py", "--figure=gradients", f"--run_dirs={self.out}/z-*",
                     f"--out={self.out}/grads.png")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertTrue(os.path.exists(f"{self.out}/grads.png"))

    def test_a_run_in_two_tables_counts_once(self):
        self.assertEqual(self.sweep.returncode, 0, self.sweep.stderr[-3000:])
        copy = os.path.join(self.out, "copy-table.parquet")
        pd.read_parquet(self.table).to_parquet(copy)
        result = run("tools/schicho_fig.py", "--figure=curves", f"--tables={self.table},{copy}", "--print",
                     f"--out={self.out}/twice.png")
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        line = [l for l in result.stdout.splitlines() if l.startswith("torch_default")][0]
        self.assertEqual(line.split()[-1], "2")  # two seeds, not four

    def test_missing_inputs_get_one_line(self):
        result = run("tools/schicho_fig.py", "--figure=gradients", f"--run_dirs={self.out}/none-*",
                     f"--out={self.out}/x.png")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("error: no gradients.csv", result.stderr)


class CurvesSplitTest(tf.test.TestCase):
    """Paper 001's curves are test accuracy and loss (the authors' test_after_epoch=True); validation
    on request. Drawn in a subprocess: the script's flags live in absl's global registry."""

    def test_test_by_default_validation_on_request(self):
        rows = [{"run_name": f"r{seed}", "init_scheme": "zeros_normal_bias", "bias_scale": 1.0, "epoch": epoch,
                 "test_accuracy": 0.5 + 0.1 * epoch, "test_loss": 1.0 / epoch, "validation_accuracy": 0.4,
                 "validation_loss": 2.0} for seed in (1, 2) for epoch in (1, 2)]
        table = os.path.join(self.get_temp_dir(), "t.parquet")
        pd.DataFrame(rows).to_parquet(table)
        script = ("import sys; sys.path.insert(0, 'tools'); import pandas as pd, schicho_fig\n"
                  "print(schicho_fig.FLAGS['split'].default)\n"
                  f"schicho_fig.FLAGS(['x', '--tables={table}', '--out=x.png'])\n"
                  "for split in ('test', 'validation'):\n"
                  f"    fig = schicho_fig.curves(pd.read_parquet({table!r}), split)\n"
                  "    values = [round(float(v), 6) for v in fig.axes[0].lines[0].get_ydata()]\n"
                  "    print([ax.get_ylabel() for ax in fig.axes], values)\n")
        result = run("-c", script)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertEqual(result.stdout.splitlines(), [
            "test", "['test_accuracy', 'test_loss'] [0.6, 0.7]",
            "['validation_accuracy', 'validation_loss'] [0.4, 0.4]"])


if __name__ == "__main__":
    tf.test.main()
