"""What every figure shares: table loading, seed aggregation, axes, saving."""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from keras_initstudy import errors, rundir  # noqa: E402


def read_table(path: str) -> pd.DataFrame:
    """A sweep's table (.csv or .parquet); says on stderr when the sweep behind it had failures."""
    if not os.path.exists(path):
        raise errors.UserError(f"no table at {path}; run keras_initstudy.sweep first")
    warn_failed_runs(path)
    frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    if frame.empty:
        raise errors.UserError(f"{path} holds no runs")
    return frame


FAILURE_COLUMNS = ("run_name", "dataset", "model", "error", "traceback")


def warn_failed_runs(path: str) -> None:
    """Says, on stderr, when the sweep that wrote the table at `path` had runs fail (its
    <experiment>-failures.csv, which describes the last sweep only), naming the grid points
    they were: the figure then shows fewer groups, or fewer seeds, than the flagfile asked for."""
    stem = path.rsplit(".", 1)[0]
    failures_path = (stem[:-len("-table")] if stem.endswith("-table") else stem) + "-failures.csv"
    if not os.path.exists(failures_path):
        return
    failed = pd.read_csv(failures_path)
    axes = [c for c in failed.columns if c not in FAILURE_COLUMNS]
    points = sorted({", ".join(f"{a}={row[a]}" for a in axes) for _, row in failed.iterrows()} - {""})
    where = f" (missing or short: {'; '.join(points)})" if points else ""
    print(f"figures: warning: {len(failed)} runs of the sweep behind {path} failed{where}; see {failures_path}",
          file=sys.stderr)


def band_limits(metric: str):
    """Where a mean +- interval band may reach: [0, 1] for an accuracy, [0, inf) for a loss."""
    if "accuracy" in metric:
        return 0.0, 1.0
    return (0.0, None) if "loss" in metric else (None, None)


def percent_log_axis(axis, values) -> None:
    """A log axis of percentages with plain labels (100, 50, 20, 10, 5, ...; never '6x10^1')."""
    from matplotlib import ticker
    low, high = min(values), max(values)
    marks = [m * 10.0 ** e for e in range(-4, 3) for m in (1, 2, 5) if low / 1.5 <= m * 10.0 ** e <= high * 1.5]
    axis.set_major_locator(ticker.FixedLocator(marks or [low, high]))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def mean_std(frame: pd.DataFrame, by, column: str) -> pd.DataFrame:
    """Mean and standard deviation of `column` over seeds, grouped by `by`."""
    grouped = frame.groupby(by)[column]
    return pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(ddof=0), "n": grouped.count()}).reset_index()


def width_colors(widths):
    cmap = plt.get_cmap("viridis")
    widths = sorted(widths)
    return {w: cmap(i / max(len(widths) - 1, 1)) for i, w in enumerate(widths)}


def save(fig, path: str) -> None:
    with rundir.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)
    print(f"wrote {path}")
