"""Paper 001 (Schicho, schicho2022): accuracy and loss curves per initialisation, and the
gradient quantiles of §4, from sweeps of `keras_initstudy.train` over --init_scheme.

    python -m keras_initstudy.figures schicho2022/curves --inputs=runs/schicho2022_quick_fnn-table.parquet \
        --print --out=curves.png
    python -m keras_initstudy.figures schicho2022/gradients --inputs='runs/schicho2022_quick_fnn-*' \
        --out=grads.png
"""
import numpy as np
import pandas as pd

from keras_initstudy import errors
from keras_initstudy.analysis import runs
from keras_initstudy.figures import common
from keras_initstudy.figures.registry import RUNS, TABLES, Option, figure

T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
FEW_SEEDS = 3  # with this many seeds or fewer the curves show each seed as well as the band
MAX_STEP_LABELS = 10  # step labels under one panel of the gradient figure


def init_label(row) -> str:
    scheme = row.get("init_scheme", "torch_default")
    if isinstance(scheme, str) and scheme.endswith("_bias"):
        return f"{scheme} x {row.get('bias_scale', 1.0):g}"
    return str(scheme)


def with_labels(table: pd.DataFrame) -> pd.DataFrame:
    if "init_scheme" not in table:
        raise errors.UserError("the tables have no init_scheme column (sweep a paper-001 model)")
    return table.assign(init=[init_label(r) for r in table.to_dict("records")])


def interval(values: pd.Series) -> float:
    """Half-width of the 95% confidence interval of the mean over seeds."""
    n = values.count()
    return 0.0 if n < 2 else T_975.get(n - 1, 1.96) * values.std(ddof=1) / np.sqrt(n)


def final_accuracies(table: pd.DataFrame) -> pd.DataFrame:
    last = table[table["epoch"] == table.groupby("run_name")["epoch"].transform("max")]
    columns = [c for c in ("validation_accuracy", "test_accuracy") if c in last]
    grouped = last.groupby("init")[columns]
    out = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=0).add_suffix("_std"))
    return out.join(last.groupby("init")["run_name"].count().rename("seeds"))


def curves(table: pd.DataFrame, split: str = "test", print_finals: bool = False):
    """Test (or validation) accuracy and loss over epochs, one line per initialisation (scheme,
    and bias scale where it matters): the mean over seeds with its 95% confidence interval
    (Student's t over seeds); the authors' code plots test_after_epoch curves."""
    table = with_labels(table[table["epoch"] > 0])
    metrics = [m for m in (f"{split}_accuracy", f"{split}_loss") if m in table]
    if not metrics:
        hint = " (train with --validation_split)" if split == "validation" else ""
        raise errors.UserError(f"no {split}_accuracy in the tables{hint}")
    fig, axes = common.plt.subplots(1, len(metrics), figsize=(7 * len(metrics), 5), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        low, high = common.band_limits(metric)
        for label, rows in table.groupby("init"):
            stats = rows.groupby("epoch")[metric].agg(["mean", interval])
            line, = ax.plot(stats.index, stats["mean"], marker="o", ms=3, label=label)
            band = (stats["mean"] - stats["interval"], stats["mean"] + stats["interval"])
            ax.fill_between(stats.index, *(b.clip(lower=low, upper=high) for b in band), alpha=0.2,
                            color=line.get_color())
            if rows["run_name"].nunique() <= FEW_SEEDS:  # a t-interval from 2-3 seeds is wide: show them too
                for _, seed_rows in rows.groupby("run_name"):
                    ax.plot(seed_rows["epoch"], seed_rows[metric], lw=0.6, alpha=0.6, color=line.get_color())
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.legend(fontsize=8)
    fig.suptitle(f"mean and 95% interval over seeds (thin lines: each seed, when {FEW_SEEDS} or fewer)")
    fig.tight_layout()
    if print_finals:
        print(final_accuracies(table).to_string(float_format=lambda v: f"{v:.4f}"))
    return fig


@figure("schicho2022/curves", "Accuracy and loss over epochs per initialisation, 95% interval over seeds", TABLES,
        [Option("split", "test", "The split whose accuracy and loss are drawn: test (the authors' curves: "
                "test_after_epoch) or validation (--validation_split).", ("test", "validation")),
         Option("print", False, "Also print each initialisation's final accuracies, mean ± std over seeds.")])
def curves_figure(inputs, options):
    return curves(inputs.table(dedup=("run_name", "epoch")), options.split, options.print)


def box_stats(rows: pd.DataFrame):
    return [{"med": r["q50"], "q1": r["q25"], "q3": r["q75"], "whislo": r["q05"], "whishi": r["q95"],
             "fliers": [r["min"], r["max"]], "label": str(int(r["step"]))} for r in rows.to_dict("records")]


@figure("schicho2022/gradients", "Kernel-gradient quantiles per layer and step (§4)", RUNS,
        [Option("max_step", 50, "Last step shown.")])
def gradient_boxes(inputs, options):
    """Paper 001 §4: for each run, one panel per layer with a box per logged step from
    gradients.csv: box 25-75%, whiskers 5-95%, the median line; min and max as points."""
    found = inputs.run_dirs(lambda d: d.gradients, "gradients.csv (train with --gradient_steps=50)")
    found.sort(key=lambda d: (str(runs.settings(d).get("init_scheme")), str(runs.settings(d).get("init_seed"))))
    tables = {d: pd.read_csv(d.gradients) for d in found}
    layers = list(dict.fromkeys(tables[found[0]]["layer"]))
    fig, axes = common.plt.subplots(len(found), len(layers), figsize=(5 * len(layers), 3.5 * len(found)),
                                    squeeze=False)
    for row, run_dir in enumerate(found):
        rows = tables[run_dir]
        rows = rows[rows["step"] <= options.max_step]
        settings = runs.settings(run_dir)
        for col, layer in enumerate(layers):
            ax = axes[row, col]
            boxes = box_stats(rows[rows["layer"] == layer])
            ax.bxp(boxes, showfliers=True)
            every = max(1, -(-len(boxes) // MAX_STEP_LABELS))  # at most MAX_STEP_LABELS step labels a panel
            ax.set_xticks(range(1, len(boxes) + 1, every), [b["label"] for b in boxes][::every], fontsize=7)
            if row == 0:
                ax.set_title(layer)
            if row == len(found) - 1:
                ax.set_xlabel("step")
            if col == 0:
                ax.set_ylabel(f"{settings.get('init_scheme', '?')}, seed {settings.get('init_seed', '?')}\n"
                              "kernel gradient")
    fig.tight_layout()
    return fig
