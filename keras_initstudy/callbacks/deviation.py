"""RMSD(t), paper 000 eq. (3): how far the weights have moved from their initial values.

    RMSD(t) = sqrt( (1/m) * sum_j [w_j(t) - w_j(0)]^2 )

over the m weights (edges) of the network, and the same per layer. Computed in a
tf.function against ReferenceWeights' on-device copy of w(0) (after a rewind: w(k)),
so no weights are copied to the host. Values go into the epoch's logs, so history.csv gets `rmsd` and
`rmsd/<layer>` columns and TensorBoard `epoch_rmsd...` scalars (put this callback
before HistoryCSV and TensorBoard).
"""
import csv
import math
import os
from typing import Dict, Optional

import tensorflow as tf

from keras_initstudy import rundir
from keras_initstudy.callbacks.clock import StepCallback
from keras_initstudy.callbacks.reference import ReferenceWeights


class DeviationTracker(StepCallback):
    """Logs RMSD each epoch; with `every_steps` > 0 also every that many optimizer
    steps into `steps_csv` (columns step, epoch, rmsd, rmsd/<layer>...)."""

    def __init__(self, reference: ReferenceWeights, every_steps: int = 0,
                 steps_csv: Optional[str] = None):
        super().__init__()
        if every_steps and not steps_csv:
            raise ValueError("every_steps needs steps_csv")
        self.reference = reference
        self.every_steps = every_steps
        self.steps_csv = steps_csv
        self.step_rows = read_rows(steps_csv) if steps_csv else []
        self._epoch = None
        self._squared_sums = tf.function(self._squared_sums_eager)  # one graph per tracker

    def _squared_sums_eager(self):
        return [tf.reduce_sum(tf.square(tf.cast(v.value, tf.float32) - tf.cast(w0, tf.float32)))
                for v, w0 in zip(self.reference.variables, self.reference.reference)]

    def measure(self) -> Dict[str, float]:
        """{'rmsd': total, 'rmsd/<layer>': per layer} for the current weights."""
        sums = [float(s) for s in self._squared_sums()]
        sizes = [math.prod(v.shape) for v in self.reference.variables]
        values = {"rmsd": (sum(sums) / sum(sizes)) ** 0.5}
        for layer, members in self.reference.by_layer().items():
            values[f"rmsd/{layer}"] = (sum(sums[i] for i in members) /
                                       sum(sizes[i] for i in members)) ** 0.5
        return values

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.step_rows = [r for r in self.step_rows if r["step"] <= self.step]  # a resumed run redoes the rest

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._epoch = epoch

    def acts_at(self, step):
        return bool(self.every_steps) and step % self.every_steps == 0

    def on_step(self, step):
        if self.acts_at(step):
            self.step_rows.append({"step": step, "epoch": self._epoch, **self.measure()})

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.measure())
        if self.every_steps and self.step_rows:
            rundir.write_rows(self.steps_csv, self.step_rows)


def read_rows(path: str):
    """Rows of an earlier rmsd_steps.csv (numbers as numbers), or [] if none."""
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: (int(v) if k in ("step", "epoch") else float(v)) for k, v in row.items()}
                for row in csv.DictReader(f)]
