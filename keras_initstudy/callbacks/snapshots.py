"""WeightSnapshots: every trainable variable at chosen steps, as compressed .npz files.

Step 0 is the exact initial configuration (saved before the first update), and the
last step is always included, so paper 000's (w_i, w_f) analyses (Fig. 3,
Appendix B) and Fig. 1's fading mark can be computed from a run directory.
Files: snapshots/epoch-NNNNN.npz at epoch ends, snapshots/step-NNNNNNNNN.npz
between them (rundir.snapshot_path_for); keys are variable paths ('hidden_1/kernel').
"""
import os
from typing import Dict, Iterable, List

import keras
import numpy as np

from keras_initstudy import rundir, steps
from keras_initstudy.callbacks.clock import StepCallback


def parse_schedule(spec: str, end: steps.Step) -> List[steps.Step]:
    """Steps at which to snapshot, for a run that ends at `end`.

    'none' -> []; 'log:N' -> N epochs log-spaced over 1..(epochs of the run);
    '0,1,2,5,10,500it' -> those (a bare number is epochs; steps past the end are
    dropped). Every non-empty schedule also holds step 0 and the end.
    """
    spec = spec.strip()
    per_epoch = end.steps_per_epoch
    if spec == "none":
        return []
    if spec.startswith("log:"):
        count = int(spec[4:])
        if count < 1:
            raise ValueError(f"log:N needs N >= 1, got {spec!r}")
        epochs = max(end.epoch, 1)
        chosen = {steps.Step.from_epochs(int(e), per_epoch)
                  for e in np.unique(np.round(np.geomspace(1, epochs, count)).astype(int))}
    else:
        chosen = set(steps.parse_list(spec, per_epoch))
    return sorted({s for s in chosen if s <= end} | {steps.Step(0, per_epoch), end})


def variable_name(model: keras.Model, variable) -> str:
    """The variable's path without the model's own name: 'hidden_1/kernel'."""
    prefix = model.name + "/"
    return variable.path[len(prefix):] if variable.path.startswith(prefix) else variable.path


def weights_by_path(model: keras.Model, non_trainable: bool = False) -> Dict[str, np.ndarray]:
    """{'hidden_1/kernel': array, ...} for every trainable variable (with `non_trainable`,
    batch-norm statistics too)."""
    variables = model.weights if non_trainable else model.trainable_weights
    return {variable_name(model, v): np.asarray(v.numpy()) for v in variables}


class WeightSnapshots(StepCallback):
    def __init__(self, run_dir: str, schedule: Iterable[steps.Step]):
        super().__init__()
        self.run_dir = rundir.at(run_dir)
        self.schedule = {s.iteration: s for s in schedule}
        self.bytes_written: Dict[int, int] = {}

    def save(self, step: steps.Step) -> None:
        path = self.run_dir.snapshot_at(step)
        rundir.write_npz(path, weights_by_path(self.model))
        self.bytes_written[step.iteration] = os.path.getsize(path)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        # On resume the model holds later weights; the scheduled step was saved by the earlier start.
        if self.step in self.schedule and not os.path.exists(
                self.run_dir.snapshot_at(self.schedule[self.step])):
            self.save(self.schedule[self.step])

    def acts_at(self, step):
        return step in self.schedule

    def on_step(self, step):
        if step in self.schedule:
            self.save(self.schedule[step])
