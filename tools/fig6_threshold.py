"""Paper 000 Fig. 6: t_theta, the first epoch with train loss below theta (top), and
RMSD(t_theta) (bottom) vs width, averaged over seeds; one column per dataset.
Points are missing where no run of that width reached theta (as in the paper).

    python tools/fig6_threshold.py --table=runs/jesus2021_sweep_quick-table.parquet --out=fig6.png
"""
import pandas as pd
from absl import app, flags

import figure_common as common
from keras_initstudy.analysis import regimes

FLAGS = flags.FLAGS
flags.DEFINE_list("thetas", ["1.0", "0.5", "0.2", "0.1", "0.01"], "Loss thresholds theta.")
common.define_table_flags()


def main(argv):
    del argv
    table = common.read_table(FLAGS.table)
    names = sorted(table["dataset"].unique())
    fig, axes = common.plt.subplots(2, len(names), figsize=(5 * len(names), 7), squeeze=False)
    for col, name in enumerate(names):
        rows = []
        for (width, seed), run in table[table["dataset"] == name].groupby(["width", "seed"]):
            history = run.dropna(subset=["loss"]).sort_values("epoch")
            for theta in map(float, FLAGS.thetas):
                rows.append({"width": width, "seed": seed, "theta": theta,
                             **regimes.threshold_time(history, theta)})
        times = pd.DataFrame(rows)
        for theta, group in times.groupby("theta", sort=False):
            for row, column in ((0, "t_theta"), (1, "rmsd_at_t_theta")):
                stats = common.mean_std(group.dropna(subset=[column]), "width", column)
                if not stats.empty:  # no width reached theta: no line, and no legend entry
                    axes[row, col].plot(stats["width"], stats["mean"], marker="o", label=f"θ = {theta:g}")
        axes[0, col].set(xscale="log", yscale="log", title=name, ylabel="t_θ (epochs)")
        axes[1, col].set(xscale="log", yscale="log", xlabel="width", ylabel="RMSD(t_θ)")
        if axes[0, col].get_legend_handles_labels()[0]:
            axes[0, col].legend(fontsize=8)
    fig.tight_layout()
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
