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


if __name__ == "__main__":
    tf.test.main()
