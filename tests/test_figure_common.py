"""keras_initstudy/figures/common.py: what every figure shares (issue 24.7): plain percent ticks on log
axes, bands kept inside what a metric can reach, and a warning when a sweep's runs failed."""
import contextlib
import io
import os

import pandas as pd
import tensorflow as tf

from keras_initstudy.figures import common


class FigureCommonTest(tf.test.TestCase):

    def test_log_percent_ticks_are_plain_numbers(self):
        fig, ax = common.plt.subplots()
        ax.plot([100, 64, 41, 26, 6.9], [1, 2, 3, 4, 5])
        ax.set_xscale("log")
        common.percent_log_axis(ax.xaxis, [100, 64, 41, 26, 6.9])
        fig.canvas.draw()
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        self.assertEqual(labels, ["5", "10", "20", "50", "100"])
        self.assertEqual([t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()], [])
        common.plt.close(fig)

    def test_bands_stay_where_the_metric_can_be(self):
        self.assertEqual(common.band_limits("validation_accuracy"), (0.0, 1.0))
        self.assertEqual(common.band_limits("validation_loss"), (0.0, None))
        self.assertEqual(common.band_limits("rmsd"), (None, None))

    def test_a_table_whose_sweep_had_failures_says_which_points(self):
        folder = self.get_temp_dir()
        table = os.path.join(folder, "exp-table.parquet")
        pd.DataFrame({"run_name": ["a"], "round": [0]}).to_parquet(table)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            common.read_table(table)
        self.assertEqual(err.getvalue(), "")  # no failures file: nothing to say
        pd.DataFrame({"run_name": ["b", "c", "d"], "dataset": ["m"] * 3, "model": ["lenet"] * 3,
                      "seed": [1, 2, 1], "rewind": ["50it", "50it", "200it"], "error": ["E"] * 3,
                      "traceback": [""] * 3}).to_csv(os.path.join(folder, "exp-failures.csv"), index=False)
        with contextlib.redirect_stderr(err):
            common.read_table(table)
        self.assertIn(f"warning: 3 runs of the sweep behind {table} failed (missing or short: seed=1, "
                      f"rewind=200it; seed=1, rewind=50it; seed=2, rewind=50it); see {folder}/exp-failures.csv",
                      err.getvalue())


if __name__ == "__main__":
    tf.test.main()
