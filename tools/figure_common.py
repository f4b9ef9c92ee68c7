"""Shared by the tools/ figure scripts: flags, table loading, seed aggregation, saving."""
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from absl import flags  # noqa: E402

from keras_initstudy import rundir  # noqa: E402


def define_table_flags():
    flags.DEFINE_string("table", None, "Sweep table (.csv or .parquet) written by keras_initstudy.sweep.")
    flags.DEFINE_string("out", None, "PNG file to write.")
    flags.mark_flags_as_required(["table", "out"])


def expand_paths(spec: str) -> list:
    """Comma-separated paths or glob patterns -> the sorted, distinct paths (a pattern that
    matches nothing stays as given, so the caller's check names it)."""
    return sorted({p for part in spec.split(",") for p in (glob.glob(part) or [part])})


def read_table(path: str) -> pd.DataFrame:
    if not os.path.exists(path):
        sys.exit(f"error: no table at {path}; run keras_initstudy.sweep first")
    frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    if frame.empty:
        sys.exit(f"error: {path} holds no runs")
    return frame


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
