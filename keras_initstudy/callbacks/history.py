"""history.csv: one row per completed epoch, rewritten atomically after each epoch."""
import csv
import os
import time
from typing import Dict, List

import keras

from keras_initstudy import rundir


def _rename(key: str) -> str:
    """Keras calls the held-out split 'val_'; here it is the test split."""
    return "test_" + key[len("val_"):] if key.startswith("val_") else key


def read_history(path: str) -> List[Dict[str, str]]:
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class HistoryCSV(keras.callbacks.Callback):
    """Writes `epoch` (epochs completed, 1-based), every logged metric with val_
    renamed test_ (loss, accuracy, test_loss, test_accuracy, ...), and `wall_time`
    (seconds the epoch took, evaluation included).

    Place it after callbacks that add values to the epoch's logs, so their
    values land in the same row. On resume, rows past `initial_epoch` are dropped.
    """

    def __init__(self, path: str, initial_epoch: int = 0):
        super().__init__()
        self.path = path
        self.rows = [r for r in read_history(path) if int(r["epoch"]) <= initial_epoch]
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({_rename(k): float(v) for k, v in (logs or {}).items()})
        row["wall_time"] = time.perf_counter() - self._start
        self.rows.append(row)
        rundir.write_rows(self.path, self.rows)
