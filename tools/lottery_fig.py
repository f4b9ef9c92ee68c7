"""Accuracy of IMP sub-networks vs weights remaining, one line per group, mean +- standard
deviation over seeds: paper 003 Figs. 3 and 4 (a line per initialisation), paper 004 Fig. 1
(per rewind step k), Figs. 4 and 5 (per branch: re-initialisation), §6 (per pre-training
task); and paper 003 Fig. 2 (network size over the experiment). From the tables that
`keras_initstudy.sweep --runner=prune` writes.

    python tools/lottery_fig.py --tables='runs/wijnja2020_quick_*-table.parquet' --out=fig3.png
    python tools/lottery_fig.py --tables=... --figure=size --out=fig2.png
    python tools/lottery_fig.py --tables=... --metric=train_eval_accuracy --out=fig3_as_released.png
    python tools/lottery_fig.py --tables=runs/frankle2020_quick_lenet-table.parquet --group=rewind --out=fig1.png
    python tools/lottery_fig.py --tables=... --group=branch --facet=rewind --print --out=fig4.png

Lines other than --group=branch use the IMP trunk's rows only (branches left out).
Error bars: ± std / 2 for paper 003's figures (--group=kernel_initializer; the authors'
code plots yerr/2), ± std otherwise; --error_bars chooses, and the legend says which.

The x axis is the percentage of prunable weights remaining (log scale, decreasing);
the accuracy is the metric at the end of each round (paper 003: test accuracy "right
before pruning and resetting").
"""
import re
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
flags.DEFINE_string("group", "kernel_initializer", "Column with one line per value: kernel_initializer (paper 003), "
                    "rewind (paper 004 Fig. 1), branch (Figs. 4, 5), pretrain (§6).")
flags.DEFINE_string("facet", None, "Column with one panel per value (e.g. rewind for Figs. 4 and 5).")
flags.DEFINE_enum("error_bars", "paper", ["paper", "std", "half_std"],
                  "Error bars: std, half_std (± std / 2, paper 003's figures: the authors plot yerr/2), or paper "
                  "(half_std for --group=kernel_initializer, paper 003's figures; std otherwise).")
flags.DEFINE_bool("print", False, "Also print the plotted means and stds as a table.")
flags.mark_flags_as_required(["tables", "out"])
FLAGS = flags.FLAGS


def read_tables(spec: str) -> pd.DataFrame:
    """The tables' rows; a run in two sweeps (Fig. 1's trunk, Fig. 4's branches) counts once."""
    table = pd.concat([common.read_table(p) for p in common.expand_paths(spec)], ignore_index=True)
    keys = [k for k in ("run_name", "round", "branch") if k in table]
    return table.drop_duplicates(subset=keys) if "run_name" in table else table


BRANCH_LABELS = {"trunk": "IMP: signs k, magnitudes k", "init_signs": "signs 0, magnitudes k",
                 "init_magnitudes": "signs k, magnitudes 0", "init": "signs 0, magnitudes 0",
                 "random_magnitudes": "signs k, random magnitudes", "random": "random re-init",
                 "shuffle_layer": "permuted in layer", "shuffle_unit": "permuted in unit/filter",
                 "shuffle_kernel": "permuted in kernel slice"}


def by_group(table: pd.DataFrame, metric: str, group: str, facet: str = None) -> pd.DataFrame:
    """Per (facet,) group and round: weights remaining (%) and the metric's mean and std over seeds."""
    for column in (metric, group, facet):
        if column and column not in table:
            sys.exit(f"error: no column {column!r} in the tables")
    if group != "branch" and "branch" in table:
        table = table[table["branch"] == "trunk"]
    keys = [k for k in (facet, group) if k] + ["round"]
    grouped = table.groupby(keys)
    return pd.DataFrame({"remaining": grouped["fraction_remaining"].mean() * 100, "mean": grouped[metric].mean(),
                         "std": grouped[metric].std(ddof=0), "seeds": grouped[metric].count()}).reset_index()


def natural(value):
    """Sort key that puts 500it before 2000it."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(value))]


def label(group: str, value) -> str:
    return BRANCH_LABELS.get(value, value) if group == "branch" else f"{group}={value}"


def error_bar_scale(error_bars: str, group: str) -> float:
    """The multiple of the std over seeds drawn as an error bar: paper 003's code plots yerr/2."""
    if error_bars == "paper":
        error_bars = "half_std" if group == "kernel_initializer" else "std"
    return 0.5 if error_bars == "half_std" else 1.0


def accuracy_figure(table: pd.DataFrame):
    summary = by_group(table, FLAGS.metric, FLAGS.group, FLAGS.facet)
    if FLAGS.print:
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    facets = sorted(summary[FLAGS.facet].unique()) if FLAGS.facet else [None]
    fig, axes = common.plt.subplots(1, len(facets), figsize=(8 * len(facets), 5), squeeze=False)
    scale = error_bar_scale(FLAGS.error_bars, FLAGS.group)
    bars = "± std / 2 (as paper 003's figures)" if scale == 0.5 else "± std"
    for ax, value in zip(axes[0], facets):
        rows = summary if value is None else summary[summary[FLAGS.facet] == value]
        for name in sorted(rows[FLAGS.group].unique(), key=natural):
            line = rows[rows[FLAGS.group] == name]
            ax.errorbar(line["remaining"], line["mean"] * 100, yerr=scale * line["std"] * 100, marker="o", ms=3,
                        capsize=2, label=f"{label(FLAGS.group, name)} (n={int(line['seeds'].max())})")
        title = f"Accuracy at the end of each round, mean {bars} over seeds"
        ax.set(xscale="log", xlabel="weights remaining (%)", ylabel=f"{FLAGS.metric} (%)",
               title=title if value is None else f"{FLAGS.facet}={value}: {title}")
        common.percent_log_axis(ax.xaxis, rows["remaining"])
        ax.invert_xaxis()
        ax.legend(fontsize=8, title=f"mean {bars} over seeds", title_fontsize=8)
    return fig


def size_figure(table: pd.DataFrame):
    """Paper 003 Fig. 2: weights remaining over the experiment's epochs."""
    fig, ax = common.plt.subplots(figsize=(8, 5))
    rounds = table.groupby("round")[["fraction_remaining", "end_step", "steps_per_epoch"]].mean()
    epochs = (rounds.index + 1) * (rounds["end_step"] / rounds["steps_per_epoch"]).iloc[0]
    ax.step(np.concatenate([[0], epochs]), np.concatenate([rounds["fraction_remaining"] * 100,
                                                           [rounds["fraction_remaining"].iloc[-1] * 100]]),
            where="post")
    ax.set(xlabel="epoch of the experiment", ylabel="weights remaining (%)", title="Network size (Fig. 2)")
    return fig


def main(argv):
    del argv
    table = read_tables(FLAGS.tables)
    common.save(size_figure(table) if FLAGS.figure == "size" else accuracy_figure(table), FLAGS.out)


if __name__ == "__main__":
    app.run(main)
