"""history.csv: one row per epoch end (and one at a mid-epoch end of training),
rewritten atomically after each."""
import csv
import os
import time
from typing import Dict, List

import keras

from keras_initstudy import rundir
from keras_initstudy.callbacks.clock import StepCallback


def _rename(key: str) -> str:
    """Keras calls the held-out split 'val_'; here it is the test split."""
    return "test_" + key[len("val_"):] if key.startswith("val_") else key


class TestSplitProgbar(keras.callbacks.ProgbarLogger):
    """Keras's console progress bar, with the test split's metrics named test_ (as in
    history.csv), not val_: the data fit validates on is the test split."""

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, {_rename(k): v for k, v in (logs or {}).items()})


def read_history(path: str) -> List[Dict[str, str]]:
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def row_step(row: Dict[str, str], steps_per_epoch: int) -> int:
    """The optimizer step of a row (rows written before the `step` column: from `epoch`)."""
    if row.get("step"):
        return int(row["step"])
    return int(float(row["epoch"]) * steps_per_epoch)


class HistoryCSV(StepCallback):
    """Writes `epoch` (epochs completed: an integer at epoch ends, a fraction when
    training ends mid-epoch), `step` (optimizer updates), every logged metric with
    val_ renamed test_ (loss, accuracy, test_loss, test_accuracy, ...), and
    `wall_time` (seconds the epoch took, evaluation included).

    The train loss and accuracy are Keras's running means over the epoch's
    batches; in the epoch a run resumed mid-way, over the batches after the resume.
    Place it after callbacks that add values to the epoch's logs, so their values
    land in the same row. On resume, rows past `resume_step` are dropped.
    """

    def __init__(self, path: str, steps_per_epoch: int, resume_step: int = 0):
        super().__init__()
        self.path = path
        self.steps_per_epoch = steps_per_epoch
        self.rows = [r for r in read_history(path) if row_step(r, steps_per_epoch) <= resume_step]
        self._start = None

    def acts_at(self, step):
        return False  # rows are written at epoch ends only

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        whole, part = divmod(self.step, self.steps_per_epoch)
        row = {"epoch": whole if not part else round(self.step / self.steps_per_epoch, 6), "step": self.step}
        row.update({_rename(k): float(v) for k, v in (logs or {}).items()})
        row["wall_time"] = time.perf_counter() - self._start
        self.rows.append(row)
        rundir.write_rows(self.path, self.rows)
