"""Training regimes read from a run's history (paper 000 §5, Figs. 2 and 6)."""
import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import pandas as pd


def divergence_epoch(epochs: Sequence[int], loss: Sequence[float], jump_ratio: float = 3.0,
                     persist_fraction: float = 0.9) -> Optional[int]:
    """The first epoch of an abrupt rise of the train loss to a plateau (Fig. 2c), or None.

    Rule: epoch t diverges when loss(t) >= jump_ratio * min(loss before t) and, from
    t to the end, at least `persist_fraction` of the epochs stay at or above that
    same level (a plateau, not a one-epoch spike). A non-finite (NaN or inf) loss
    counts as above any level, so a run whose first loss is already non-finite
    diverged at its first epoch.
    """
    loss = np.asarray(loss, dtype=np.float64)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    if len(loss) and loss[0] == np.inf:
        return int(epochs[0])
    running_min = np.inf
    for k in range(len(loss)):
        if k > 0 and math.isfinite(running_min):
            level = jump_ratio * running_min
            if loss[k] >= level and np.mean(loss[k:] >= level) >= persist_fraction:
                return int(epochs[k])
        running_min = min(running_min, loss[k])
    return None


def threshold_time(history: pd.DataFrame, theta: float, column: str = "loss") -> Dict[str, float]:
    """Fig. 6: t_theta, the first epoch whose train loss is below theta, and RMSD(t_theta).
    NaN for both when the loss never gets there (Fig. 6 leaves such points out)."""
    below = history[history[column] < theta]
    if below.empty:
        return {"t_theta": np.nan, "rmsd_at_t_theta": np.nan}
    first = below.iloc[0]
    return {"t_theta": float(first["epoch"]), "rmsd_at_t_theta": float(first.get("rmsd", np.nan))}


def training_epochs(history: pd.DataFrame) -> pd.DataFrame:
    """The rows of trained epochs (epoch >= 1), in order: a table's epoch-0 row holds
    no loss, but a NaN loss of a trained epoch is data (the run blew up) and stays."""
    return history[history["epoch"] >= 1].sort_values("epoch")


def _minimum(h: pd.DataFrame, column: str) -> Tuple[float, float]:
    """(epoch, value) of the lowest finite value of `column`; NaNs when there is none."""
    values = h[column].to_numpy(dtype=np.float64) if column in h else np.array([])
    finite = np.isfinite(values)
    if not finite.any():
        return np.nan, np.nan
    best = int(np.argmin(np.where(finite, values, np.inf)))
    return float(h["epoch"].iloc[best]), float(values[best])


def regimes(history: pd.DataFrame, jump_ratio: float = 3.0, persist_fraction: float = 0.9) -> Dict[str, float]:
    """Fig. 2c-d: epochs of the minimum train and test loss, the divergence epoch
    (NaN if none; see divergence_epoch, where a NaN or infinite loss counts as
    diverged), and the minimum losses (over finite values)."""
    h = training_epochs(history)
    out = dict(zip(("epoch_min_train_loss", "min_train_loss"), _minimum(h, "loss")))
    if "test_loss" in h and h["test_loss"].notna().any():
        out.update(zip(("epoch_min_test_loss", "min_test_loss"), _minimum(h, "test_loss")))
    div = divergence_epoch(h["epoch"].to_numpy(), h["loss"].to_numpy(dtype=np.float64), jump_ratio,
                           persist_fraction)
    out["divergence_epoch"] = np.nan if div is None else float(div)
    return out
