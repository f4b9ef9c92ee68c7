"""Training regimes read from a run's history (paper 000 §5, Figs. 2 and 6)."""
import math
from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd


def divergence_epoch(epochs: Sequence[int], loss: Sequence[float], jump_ratio: float = 3.0,
                     persist_fraction: float = 0.9) -> Optional[int]:
    """The first epoch of an abrupt rise of the train loss to a plateau (Fig. 2c), or None.

    Rule: epoch t diverges when loss(t) >= jump_ratio * min(loss before t) and, from
    t to the end, at least `persist_fraction` of the epochs stay at or above that
    same level (a plateau, not a one-epoch spike). A non-finite loss counts as above.
    """
    loss = np.asarray(loss, dtype=np.float64)
    loss = np.where(np.isfinite(loss), loss, np.inf)
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


def regimes(history: pd.DataFrame, jump_ratio: float = 3.0, persist_fraction: float = 0.9) -> Dict[str, float]:
    """Fig. 2c-d: epochs of the minimum train and test loss, the divergence epoch
    (NaN if none; see divergence_epoch), and the minimum losses."""
    h = history.dropna(subset=["loss"])
    train_best = h.loc[h["loss"].idxmin()]
    out = {"epoch_min_train_loss": float(train_best["epoch"]), "min_train_loss": float(train_best["loss"])}
    if "test_loss" in h and h["test_loss"].notna().any():
        test_best = h.loc[h["test_loss"].idxmin()]
        out.update(epoch_min_test_loss=float(test_best["epoch"]), min_test_loss=float(test_best["test_loss"]))
    div = divergence_epoch(h["epoch"].to_numpy(), h["loss"].to_numpy(), jump_ratio, persist_fraction)
    out["divergence_epoch"] = np.nan if div is None else float(div)
    return out
