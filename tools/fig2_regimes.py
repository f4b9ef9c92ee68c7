"""Paper 000 Fig. 2: training regimes vs width.

(a) train and (b) test loss per width (one seed), (c) epochs of the minimum train
loss, minimum test loss and divergence vs width (mean +- std over seeds), (d) the
minimum losses vs width.

    python tools/fig2_regimes.py --table=runs/jesus2021_sweep_quick-table.parquet --out=fig2.png
"""
import numpy as np
import pandas as pd
from absl import app, flags

import figure_common as common
from keras_initstudy.analysis import regimes

FLAGS = flags.FLAGS
flags.DEFINE_integer("seed", None, "Seed shown in panels a-b (default: the smallest).")
flags.DEFINE_float("jump_ratio", 3.0, "Divergence rule: loss rise factor (analysis.regimes).")
flags.DEFINE_float("persist_fraction", 0.9, "Divergence rule: fraction of later epochs on the plateau.")
common.define_table_flags()


def regime_table(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (width, seed), run in table.groupby(["width", "seed"]):
        rows.append({"width": width, "seed": seed,  # NaN losses kept: they count as diverged
                     **regimes.regimes(run, FLAGS.jump_ratio, FLAGS.persist_fraction)})
    return pd.DataFrame(rows)


def main(argv):
    del argv
    table = common.read_table(FLAGS.table)
    seed = FLAGS.seed if FLAGS.seed is not None else int(table["seed"].min())
    colors = common.width_colors(table["width"].unique())
    fig, axes = common.plt.subplots(2, 2, figsize=(11, 8))
    for column, ax, title in (("loss", axes[0, 0], "(a) train loss"), ("test_loss", axes[0, 1], "(b) test loss")):
        for width, run in table[table["seed"] == seed].groupby("width"):
            run = run.dropna(subset=[column])
            ax.plot(run["epoch"], run[column], color=colors[width], label=f"width {width}")
        ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel=column, title=f"{title}, seed {seed}")
    axes[0, 0].legend(fontsize=8)
    times = regime_table(table)
    for column, marker, label in (("epoch_min_train_loss", "o", "min train loss"),
                                  ("epoch_min_test_loss", "s", "min test loss"),
                                  ("divergence_epoch", "^", "divergence")):
        stats = common.mean_std(times.dropna(subset=[column]), "width", column)
        if not stats.empty:
            axes[1, 0].errorbar(stats["width"], stats["mean"], yerr=stats["std"], marker=marker,
                                capsize=3, label=label)
    axes[1, 0].set(xscale="log", xlabel="width", ylabel="epoch", title="(c) regime times (mean ± std over seeds)")
    axes[1, 0].legend(fontsize=8)
    for column, marker, label in (("min_train_loss", "o", "train"), ("min_test_loss", "s", "test")):
        stats = common.mean_std(times, "width", column)
        axes[1, 1].errorbar(stats["width"], stats["mean"], yerr=stats["std"], marker=marker, capsize=3, label=label)
    axes[1, 1].set(xscale="log", yscale="log", xlabel="width", ylabel="minimum loss", title="(d) minimum losses")
    axes[1, 1].legend(fontsize=8)
    dataset = ", ".join(sorted(table["dataset"].unique()))
    fig.suptitle(f"Regimes vs width ({dataset}; divergences found: {int(np.isfinite(times['divergence_epoch']).sum())})")
    fig.tight_layout()
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
