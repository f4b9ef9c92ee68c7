"""Paper 003 Figs. 3 and 4 (accuracy vs weights remaining, one line per initialisation,
mean +- standard deviation over seeds) and Fig. 2 (network size over the experiment),
from the tables that `keras_initstudy.sweep --runner=prune` writes.

    python tools/lottery_fig.py --tables='runs/wijnja2020_quick_*-table.parquet' --out=fig3.png
    python tools/lottery_fig.py --tables=... --figure=size --out=fig2.png
    python tools/lottery_fig.py --tables=... --metric=train_eval_accuracy --out=fig3_as_released.png

The x axis is the percentage of prunable weights remaining (log scale, decreasing);
the accuracy is the metric at the end of each round (paper 003: test accuracy "right
before pruning and resetting").
"""
import glob
import sys

import numpy as np
import pandas as pd
from absl import app, flags

import figure_common as common

flags.DEFINE_string("tables", None, "Comma-separated tables or glob patterns (.csv or .parquet).")
flags.DEFINE_string("out", None, "PNG file to write.")
flags.DEFINE_enum("figure", "accuracy", ["accuracy", "size"], "accuracy: Figs. 3/4; size: Fig. 2.")
flags.DEFINE_string("metric", "test_accuracy", "Column plotted by --figure=accuracy (train_eval_accuracy: the "
                    "training split, as the authors' logs did).")
flags.mark_flags_as_required(["tables", "out"])
FLAGS = flags.FLAGS


def read_tables(spec: str) -> pd.DataFrame:
    paths = sorted({p for part in spec.split(",") for p in (glob.glob(part) or [part])})
    return pd.concat([common.read_table(p) for p in paths], ignore_index=True)


def by_initialisation(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per initialisation and round: weights remaining (%) and the metric's mean and std over seeds."""
    if metric not in table:
        sys.exit(f"error: no column {metric!r} in the tables")
    grouped = table.groupby(["kernel_initializer", "round"])
    return pd.DataFrame({"remaining": grouped["fraction_remaining"].mean() * 100, "mean": grouped[metric].mean(),
                         "std": grouped[metric].std(ddof=0), "seeds": grouped[metric].count()}).reset_index()


def main(argv):
    del argv
    table = read_tables(FLAGS.tables)
    fig, ax = common.plt.subplots(figsize=(8, 5))
    if FLAGS.figure == "size":
        rounds = table.groupby("round")[["fraction_remaining", "end_step", "steps_per_epoch"]].mean()
        epochs = (rounds.index + 1) * (rounds["end_step"] / rounds["steps_per_epoch"]).iloc[0]
        ax.step(np.concatenate([[0], epochs]), np.concatenate([rounds["fraction_remaining"] * 100,
                                                               [rounds["fraction_remaining"].iloc[-1] * 100]]),
                where="post")
        ax.set(xlabel="epoch of the experiment", ylabel="weights remaining (%)", title="Network size (Fig. 2)")
    else:
        summary = by_initialisation(table, FLAGS.metric)
        for name, rows in summary.groupby("kernel_initializer"):
            ax.errorbar(rows["remaining"], rows["mean"] * 100, yerr=rows["std"] * 100, marker="o", ms=3,
                        capsize=2, label=f"{name} (n={int(rows['seeds'].max())})")
        ax.set(xscale="log", xlabel="weights remaining (%)", ylabel=f"{FLAGS.metric} (%)",
               title="Accuracy at the end of each round, mean ± std over seeds (Figs. 3, 4)")
        ax.invert_xaxis()
        ax.legend(fontsize=8)
    common.save(fig, FLAGS.out)


if __name__ == "__main__":
    app.run(main)
