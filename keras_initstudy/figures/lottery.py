"""Accuracy of IMP sub-networks vs weights remaining, one line per group, mean +- std over
seeds: paper 003 (wijnja2020) Figs. 3 and 4 (a line per initialisation) and Fig. 2 (network
size); paper 004 (frankle2020) Fig. 1 (per rewind step k), Figs. 4 and 5 (per branch: a
re-initialisation), §6 (per pre-training task). From the tables that
`keras_initstudy.sweep --runner=prune` writes.

    python -m keras_initstudy.figures wijnja2020/fig3 --inputs='runs/wijnja2020_quick_*-table.parquet' \
        --out=fig3.png
    python -m keras_initstudy.figures wijnja2020/fig3 --inputs=... --metric=train_eval_accuracy --out=f.png
    python -m keras_initstudy.figures frankle2020/fig1 --inputs=runs/frankle2020_quick_lenet-table.parquet \
        --out=fig1.png
    python -m keras_initstudy.figures frankle2020/fig4 --inputs=... --print --out=fig4.png

Lines other than --group=branch use the IMP trunk's rows only (branches left out). Error
bars: ± std / 2 for paper 003's figures (--group=kernel_initializer; the authors' code
plots yerr/2), ± std otherwise; --error_bars chooses, and the legend says which. The x
axis is the percentage of prunable weights remaining (log scale, decreasing); the
accuracy is the metric at the end of each round (paper 003: test accuracy "right before
pruning and resetting").
"""
import re

import numpy as np
import pandas as pd

from keras_initstudy import errors
from keras_initstudy.figures import common
from keras_initstudy.figures.registry import TABLES, Option, figure

BRANCH_LABELS = {"trunk": "IMP: signs k, magnitudes k", "init_signs": "signs 0, magnitudes k",
                 "init_magnitudes": "signs k, magnitudes 0", "init": "signs 0, magnitudes 0",
                 "random_magnitudes": "signs k, random magnitudes", "random": "random re-init",
                 "shuffle_layer": "permuted in layer", "shuffle_unit": "permuted in unit/filter",
                 "shuffle_kernel": "permuted in kernel slice"}


def by_group(table: pd.DataFrame, metric: str, group: str, facet: str = None) -> pd.DataFrame:
    """Per (facet,) group and round: weights remaining (%) and the metric's mean and std over seeds."""
    for column in (metric, group, facet):
        if column and column not in table:
            raise errors.UserError(f"no column {column!r} in the tables")
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


def accuracy_figure(table: pd.DataFrame, options):
    summary = by_group(table, options.metric, options.group, options.facet)
    if options.print:
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    facets = sorted(summary[options.facet].unique()) if options.facet else [None]
    fig, axes = common.plt.subplots(1, len(facets), figsize=(8 * len(facets), 5), squeeze=False)
    scale = error_bar_scale(options.error_bars, options.group)
    bars = "± std / 2 (as paper 003's figures)" if scale == 0.5 else "± std"
    for ax, value in zip(axes[0], facets):
        rows = summary if value is None else summary[summary[options.facet] == value]
        for name in sorted(rows[options.group].unique(), key=natural):
            line = rows[rows[options.group] == name]
            ax.errorbar(line["remaining"], line["mean"] * 100, yerr=scale * line["std"] * 100, marker="o", ms=3,
                        capsize=2, label=f"{label(options.group, name)} (n={int(line['seeds'].max())})")
        title = f"Accuracy at the end of each round, mean {bars} over seeds"
        ax.set(xscale="log", xlabel="weights remaining (%)", ylabel=f"{options.metric} (%)",
               title=title if value is None else f"{options.facet}={value}: {title}")
        common.percent_log_axis(ax.xaxis, rows["remaining"])
        ax.invert_xaxis()
        ax.legend(fontsize=8, title=f"mean {bars} over seeds", title_fontsize=8)
    return fig


def accuracy_options(group: str, facet=None):
    return [Option("metric", "test_accuracy", "Column plotted (train_eval_accuracy: the training split, as "
                   "paper 003's authors' logs did)."),
            Option("group", group, "Column with one line per value: kernel_initializer (paper 003), rewind "
                   "(paper 004 Fig. 1), branch (Figs. 4, 5), pretrain (§6)."),
            Option("facet", facet, "Column with one panel per value (e.g. rewind for Figs. 4 and 5)."),
            Option("error_bars", "paper", "std, half_std (± std / 2, paper 003's figures: the authors plot "
                   "yerr/2), or paper (half_std for --group=kernel_initializer, std otherwise).",
                   ("paper", "std", "half_std")),
            Option("print", False, "Also print the plotted means and stds as a table.")]


def _accuracy(inputs, options):
    return accuracy_figure(inputs.table(), options)


for _name, _title, _group, _facet in (
        ("wijnja2020/fig3", "Accuracy vs weights remaining, a line per initialisation (Figs. 3, 4)",
         "kernel_initializer", None),
        ("frankle2020/fig1", "Accuracy vs weights remaining, a line per rewind step k", "rewind", None),
        ("frankle2020/fig4", "Re-initialisations of the rewound sub-network, a panel per k (Figs. 4, 5)", "branch",
         "rewind"),
        ("frankle2020/pretraining", "Accuracy vs weights remaining, a line per pre-training task (§6)", "pretrain",
         None)):
    figure(_name, _title, TABLES, accuracy_options(_group, _facet))(_accuracy)


@figure("wijnja2020/fig2", "Network size over the experiment's epochs", TABLES)
def size_figure(inputs, options):
    """Paper 003 Fig. 2: weights remaining over the experiment's epochs."""
    table = inputs.table()
    fig, ax = common.plt.subplots(figsize=(8, 5))
    rounds = table.groupby("round")[["fraction_remaining", "end_step", "steps_per_epoch"]].mean()
    epochs = (rounds.index + 1) * (rounds["end_step"] / rounds["steps_per_epoch"]).iloc[0]
    ax.step(np.concatenate([[0], epochs]), np.concatenate([rounds["fraction_remaining"] * 100,
                                                           [rounds["fraction_remaining"].iloc[-1] * 100]]),
            where="post")
    ax.set(xlabel="epoch of the experiment", ylabel="weights remaining (%)", title="Network size (Fig. 2)")
    return fig
