"""Paper 004 (Frankle, Schwab, Morcos, frankle2020): Fig. 3's early-phase telemetry, and
Fig. 2's timeline as numbers. (Figs. 1, 4, 5 and §6 are lottery.py's.)

    python -m keras_initstudy.figures frankle2020/fig3 --inputs='runs/frankle2020_fig3_telemetry_quick-*' \
        --out=fig3.png
    python -m keras_initstudy.figures frankle2020/timeline --inputs='runs/frankle2020_fig3_telemetry*'
    python -m keras_initstudy.figures frankle2020/timeline --inputs=runs/frankle2020_quick_lenet-table.parquet
"""
import os

import numpy as np
import pandas as pd

from keras_initstudy import errors, steps
from keras_initstudy.figures import common
from keras_initstudy.figures.registry import RUNS, TABLES_AND_RUNS, Option, figure

CURVES = ("sign_changed_pct", "grad_norm", "l2_to_init")


def window_end(rows: pd.DataFrame) -> int:
    """The last step of the leading run of consecutive steps (the per-iteration window)."""
    step_list = rows["step"].tolist()
    end = 0
    while end + 1 < len(step_list) and step_list[end + 1] == step_list[end] + 1:
        end += 1
    return int(step_list[end])


def draw(axes, rows: pd.DataFrame, final: pd.DataFrame, name: str) -> None:
    tested = rows.dropna(subset=["test_accuracy"])
    axes[0, 0].plot(tested["step"], tested["test_accuracy"] * 100, label=f"{name} accuracy")
    twin = axes[0, 0].twinx()
    twin.plot(tested["step"], tested["test_loss"], ls="--", alpha=0.6)
    twin.set_ylabel("test loss (dashed)")
    axes[0, 1].plot(rows["step"], rows["mean_abs_weight"], label=name)
    axes[0, 2].plot(rows["step"], rows["sign_changed_pct"], label=name)
    for column in [c for c in rows.columns if c.startswith("weight_")]:
        axes[0, 3].plot(rows["step"], rows[column], lw=0.8)
    axes[1, 0].plot(rows["step"], rows["grad_norm"], lw=0.6, label=name)
    axes[1, 1].plot(rows["step"], rows["l2_to_init"], label=f"{name}: to init")
    axes[1, 1].plot(final["step"], final["l2_to_final"], ls="--", label=f"{name}: to final")
    axes[1, 2].plot(rows["step"], rows["cosine_to_init"], label=f"{name}: to init")
    axes[1, 2].plot(final["step"], final["cosine_to_final"], ls="--", label=f"{name}: to final")


@figure("frankle2020/fig3", "Early-phase telemetry: accuracy, weights, signs, gradients, distances", RUNS,
        [Option("max_step", None, "Last iteration shown (default: the end of the per-step window).")])
def telemetry(inputs, options):
    """Paper 004 Fig. 3, in its two rows. Top: test accuracy and loss; mean |w|; % of weights
    whose sign differs from w(0); ten fixed weights. Bottom: gradient norm; L2 distance to the
    initial and to the final weights; cosine similarity to both (telemetry.csv and
    telemetry_final.csv, callbacks/telemetry.py); x is the iteration, up to --max_step."""
    fig, axes = common.plt.subplots(2, 4, figsize=(20, 8))
    for run_dir in inputs.run_dirs(lambda d: d.telemetry, "telemetry.csv (train with --telemetry)"):
        rows = pd.read_csv(run_dir.telemetry)
        final = (pd.read_csv(run_dir.telemetry_final) if os.path.exists(run_dir.telemetry_final)
                 else rows.iloc[:0].assign(l2_to_final=[], cosine_to_final=[]))
        last = int(options.max_step) if options.max_step else window_end(rows)
        draw(axes, rows[rows["step"] <= last], final[final["step"] <= last], os.path.basename(run_dir))
    titles = [["test accuracy (%) and loss", "mean |w|", "weights with changed sign (%)", "ten fixed weights"],
              ["gradient norm (probe batch)", "L2 distance", "cosine similarity", ""]]
    for r in range(2):
        for c in range(4):
            axes[r, c].set(title=titles[r][c], xlabel="iteration")
    axes[1, 3].axis("off")
    for ax in (axes[1, 1], axes[1, 2]):
        ax.legend(fontsize=7)
    fig.suptitle("Early-phase telemetry (paper 004 Fig. 3)")
    fig.subplots_adjust(wspace=0.4, hspace=0.3)  # room for the loss axis on the first panel's right
    return fig


def flattening_step(step: np.ndarray, values: np.ndarray, span: float, threshold: float):
    """When a curve flattens (the timeline's rule, on one curve logged at consecutive steps):
    smoothed by a centred running median over d = span x window steps (at least one), its
    rate at t is |f(t + d) - f(t)| / d; it flattens at the first step after its fastest
    change from which every later rate stays at or below threshold x that fastest rate.
    None if it never does."""
    d = max(1, int(round(span * (len(step) - 1))))
    if len(step) <= d:
        return None
    values = pd.Series(values).rolling(d, center=True, min_periods=1).median().to_numpy()
    rate = np.abs(values[d:] - values[:-d]) / d
    fastest = int(np.argmax(rate))
    steep = np.flatnonzero(rate > threshold * rate[fastest])
    last_steep = int(steep[-1])
    return None if last_steep + 1 >= len(rate) else int(step[last_steep + 1])


def telemetry_report(run_dir, span: float, threshold: float) -> str:
    rows = pd.read_csv(run_dir.telemetry)
    window = rows[rows["step"] <= rows["step"].iloc[0] + np.flatnonzero(
        np.diff(rows["step"].to_numpy(), append=-1) != 1)[0]]  # the leading per-iteration steps
    lines = [f"{run_dir} (per-iteration window: steps 0..{int(window['step'].iloc[-1])})"]
    for curve in CURVES:
        at = flattening_step(window["step"].to_numpy(), window[curve].to_numpy(float), span, threshold)
        lines.append(f"  {curve:18s} " + (f"flattens at iteration {at}" if at is not None
                                          else f"not flat by iteration {int(window['step'].iloc[-1])}"))
    return "\n".join(lines)


def rewinding_report(table: pd.DataFrame, tolerance: float) -> str:
    """At the sparsest round every rewind step reached, the mean test accuracy over seeds per k;
    rewinding works from the smallest k whose mean is within `tolerance` of the best k's."""
    if "branch" in table:
        table = table[table["branch"] == "trunk"]
    if "rewind" not in table or table["rewind"].nunique() < 2:
        raise errors.UserError("the rewinding table needs runs at two or more rewind steps")
    per_epoch = int(table["steps_per_epoch"].iloc[0])
    table = table.assign(k=[steps.Step.parse(str(r), per_epoch).iteration if r != "init" else 0
                            for r in table["rewind"]])
    sparsest = int(table.groupby("k")["round"].max().min())
    at = table[table["round"] == sparsest].groupby("k")["test_accuracy"].agg(["mean", "std", "count"])
    best = at["mean"].max()
    works = int(at.index[at["mean"] >= best - tolerance].min())
    remaining = 100 * table[table["round"] == sparsest]["fraction_remaining"].mean()
    lines = [f"rewinding (round {sparsest}, {remaining:.1f}% of weights remaining):"]
    lines += [f"  k = {k:6d} it: {r['mean'] * 100:.2f} ± {r['std'] * 100:.2f} % (n={int(r['count'])})"
              for k, r in at.iterrows()]
    lines.append(f"  rewinding works from k = {works} iterations (within {tolerance * 100:.1f} points of the best)")
    return "\n".join(lines)


@figure("frankle2020/timeline", "Fig. 2's timeline as numbers: when curves flatten, where rewinding works",
        TABLES_AND_RUNS,
        [Option("span", 0.05, "Rate span as a fraction of the window."),
         Option("threshold", 0.1, "Flat: rate at most this times the fastest rate."),
         Option("tolerance", 0.01, "Rewinding works: mean accuracy within this of the best k's.")])
def timeline(inputs, options):
    """Per telemetry run, the iteration at which the sign-change rate, the gradient norm and the
    distance to the initial weights flatten (flattening_step); from IMP rewinding tables, the
    earliest rewind step k that works as well as the latest one (rewinding_report). Text."""
    if not 0.0 <= options.span <= 0.5 or not 0.0 <= options.threshold <= 1.0 or options.tolerance < 0:
        raise errors.UserError("--span must be in [0, 0.5], --threshold in [0, 1], --tolerance >= 0")
    parts = []
    if inputs.has_runs():
        parts += [telemetry_report(d, options.span, options.threshold)
                  for d in inputs.run_dirs(lambda d: d.telemetry, "telemetry.csv")]
    if inputs.has_tables():
        parts.append(rewinding_report(inputs.table(), options.tolerance))
    return "\n".join(parts)
