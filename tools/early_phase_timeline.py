"""Paper 004 Fig. 2's timeline, as numbers: per run, the iteration at which the sign-change
rate, the gradient norm and the distance to the initial weights flatten; and from IMP
rewinding results, the earliest rewind step k that works as well as the latest one.

    python tools/early_phase_timeline.py --telemetry='runs/frankle2020_fig3_telemetry*'
    python tools/early_phase_timeline.py --rewinding=runs/frankle2020_quick_lenet-table.parquet

Flattening rule (telemetry.csv, the per-iteration window only): f is first smoothed by a
centred running median over d steps, d = --span (a fraction of the window, at least one
step), so that single noisy batches do not count; its rate at step t is |f(t + d) - f(t)| / d. The curve flattens at the first step t after its fastest change from which every
later rate in the window stays at or below --threshold times that fastest rate. A curve
that never does so is reported as "not flat by" the window's end.

Rewinding rule (a sweep table of prune runs over --axis=rewind): at the sparsest round that
every rewind step reached, the mean test accuracy over seeds per k; "rewinding works from"
the smallest k whose mean is within --tolerance (accuracy points) of the best k's.
"""
import os
import sys

import numpy as np
import pandas as pd
from absl import app, flags

import figure_common as common
from keras_initstudy import steps
from keras_initstudy.callbacks import telemetry

flags.DEFINE_string("telemetry", None, "Run directories with telemetry.csv (comma-separated, globs allowed).")
flags.DEFINE_string("rewinding", None, "Sweep table(s) of prune runs over rewind steps (globs allowed).")
flags.DEFINE_float("span", 0.05, "Rate span as a fraction of the window.", lower_bound=0.0, upper_bound=0.5)
flags.DEFINE_float("threshold", 0.1, "Flat: rate at most this times the fastest rate.", lower_bound=0.0,
                   upper_bound=1.0)
flags.DEFINE_float("tolerance", 0.01, "Rewinding works: mean accuracy within this of the best k's.",
                   lower_bound=0.0)
FLAGS = flags.FLAGS
CURVES = ("sign_changed_pct", "grad_norm", "l2_to_init")


def flattening_step(step: np.ndarray, values: np.ndarray, span: float, threshold: float):
    """The rule of the module docstring on one curve logged at consecutive steps; None if never flat."""
    d = max(1, int(round(span * (len(step) - 1))))
    if len(step) <= d:
        return None
    values = pd.Series(values).rolling(d, center=True, min_periods=1).median().to_numpy()
    rate = np.abs(values[d:] - values[:-d]) / d
    fastest = int(np.argmax(rate))
    steep = np.flatnonzero(rate > threshold * rate[fastest])
    last_steep = int(steep[-1])
    return None if last_steep + 1 >= len(rate) else int(step[last_steep + 1])


def telemetry_report(run_dir: str) -> str:
    rows = pd.read_csv(telemetry.telemetry_path(run_dir))
    window = rows[rows["step"] <= rows["step"].iloc[0] + np.flatnonzero(
        np.diff(rows["step"].to_numpy(), append=-1) != 1)[0]]  # the leading per-iteration steps
    lines = [f"{run_dir} (per-iteration window: steps 0..{int(window['step'].iloc[-1])})"]
    for curve in CURVES:
        at = flattening_step(window["step"].to_numpy(), window[curve].to_numpy(float), FLAGS.span, FLAGS.threshold)
        lines.append(f"  {curve:18s} " + (f"flattens at iteration {at}" if at is not None
                                          else f"not flat by iteration {int(window['step'].iloc[-1])}"))
    return "\n".join(lines)


def rewinding_report(table: pd.DataFrame, tolerance: float) -> str:
    if "branch" in table:
        table = table[table["branch"] == "trunk"]
    if "rewind" not in table or table["rewind"].nunique() < 2:
        sys.exit("error: the rewinding table needs runs at two or more rewind steps")
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



def main(argv):
    del argv
    if not FLAGS.telemetry and not FLAGS.rewinding:
        sys.exit("error: give --telemetry, --rewinding or both")
    for run_dir in common.expand_paths(FLAGS.telemetry) if FLAGS.telemetry else ():
        if not os.path.exists(telemetry.telemetry_path(run_dir)):
            sys.exit(f"error: no telemetry.csv in {run_dir}")
        print(telemetry_report(run_dir))
    if FLAGS.rewinding:
        print(rewinding_report(pd.concat([common.read_table(p) for p in common.expand_paths(FLAGS.rewinding)],
                                         ignore_index=True), FLAGS.tolerance))


if __name__ == "__main__":
    app.run(main)
