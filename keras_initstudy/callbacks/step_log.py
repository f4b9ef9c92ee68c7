"""StepLog: a StepCallback that measures at chosen optimizer steps into a CSV (and
TensorBoard), and survives a kill: rows reach disk at every checkpoint step and epoch
end, and a resumed run keeps the rows before its restart step (the rows after it are
measured again as training replays them)."""
from typing import Dict, List

import tensorflow as tf

from keras_initstudy import rundir
from keras_initstudy.callbacks.clock import StepCallback
from keras_initstudy.callbacks.history import read_history


class StepLog(StepCallback):
    """Subclasses define `logs_at(step)`, `measure(step) -> rows` and `summarise(rows)`
    (TensorBoard, inside the writer's default at that step); `prepare()` runs once before
    the first measurement."""

    def __init__(self, csv_path: str, tensorboard_dir: str, steps_per_epoch: int, flush_every: int = 0):
        super().__init__()
        self.csv_path, self.tensorboard_dir = csv_path, tensorboard_dir
        self.per_epoch = steps_per_epoch
        self.flush_every = flush_every or steps_per_epoch  # the run's checkpoint interval
        self.rows: List[Dict] = None
        self.writer = None

    def prepare(self) -> None:
        """Called once, at the first train begin, with self.step set."""

    def logs_at(self, step: int) -> bool:
        raise NotImplementedError

    def measure(self, step: int) -> List[Dict]:
        raise NotImplementedError

    def summarise(self, rows: List[Dict]) -> None:
        """TensorBoard summaries of one step's rows."""

    def flushes_at(self, step: int) -> bool:
        return step % self.flush_every == 0 or step % self.per_epoch == 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.rows is None:
            self.prepare()
            self.rows = [r for r in read_history(self.csv_path) if int(r["step"]) < self.step]
            self.writer = tf.summary.create_file_writer(self.tensorboard_dir)
        if not self.rows or int(self.rows[-1]["step"]) < self.step:
            self.record(self.step)

    def acts_at(self, step):
        return self.logs_at(step)

    def on_step(self, step):
        if self.logs_at(step):
            self.record(step)

    def record(self, step: int) -> None:
        rows = self.measure(step)
        self.rows.extend(rows)
        with self.writer.as_default(step=step):
            self.summarise(rows)
        if self.flushes_at(step):
            self.flush()

    def flush(self) -> None:
        rundir.write_rows(self.csv_path, self.rows)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.flush()
