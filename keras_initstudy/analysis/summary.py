"""A run's end result from its history rows: final and best test accuracy.

Paper 002's code prints the best test accuracy over epochs ("Best accuracy"),
the paper's tables read as final values; both are reported (summary.json,
determinism_compare), with the epoch of the best.
"""
import math
from typing import Dict, List, Mapping


def _number(row: Mapping[str, str], column: str) -> float:
    try:
        return float(row.get(column) or "nan")
    except ValueError:
        return math.nan


def accuracy_summary(rows: List[Mapping[str, str]]) -> Dict[str, float]:
    """{final,best}_test_accuracy, best_test_epoch, final_accuracy, final_loss and epochs
    from history.csv rows (strings, as csv.DictReader gives them); the best is over the
    epochs whose test accuracy is a number, the earliest epoch on ties; NaN when none."""
    if not rows:
        return {}
    last = rows[-1]
    scored = [(_number(r, "test_accuracy"), -_number(r, "epoch")) for r in rows]
    scored = [s for s in scored if math.isfinite(s[0])]
    best, best_epoch = max(scored) if scored else (math.nan, math.nan)
    return {"epochs": _number(last, "epoch"), "final_test_accuracy": _number(last, "test_accuracy"),
            "best_test_accuracy": best, "best_test_epoch": -best_epoch,
            "final_accuracy": _number(last, "accuracy"), "final_loss": _number(last, "loss")}
