"""WeightSnapshots: every kernel and bias at chosen epochs, as compressed .npz files.

Epoch 0 is the exact initial configuration (saved before the first step), and the
last epoch is always included, so paper 000's (w_i, w_f) analyses (Fig. 3,
Appendix B) and Fig. 1's fading mark can be computed from a run directory.
Files: snapshots/epoch-NNNNN.npz, keys are variable paths ('hidden_1/kernel').
"""
import os
from typing import Dict, Iterable, List

import keras
import numpy as np

from keras_initstudy import rundir
from keras_initstudy.callbacks.initial_weights import variable_name


def parse_schedule(spec: str, epochs: int) -> List[int]:
    """Epochs (completed-epoch counts) at which to snapshot.

    'none' -> []; 'log:N' -> N epochs log-spaced over 1..epochs; '0,1,2,5,10' ->
    those (values past `epochs` dropped). Every non-empty schedule also holds 0
    and `epochs`.
    """
    spec = spec.strip()
    if spec == "none":
        return []
    if spec.startswith("log:"):
        count = int(spec[4:])
        if count < 1:
            raise ValueError(f"log:N needs N >= 1, got {spec!r}")
        chosen = set(np.unique(np.round(np.geomspace(1, epochs, count)).astype(int)).tolist())
    else:
        chosen = {int(part) for part in spec.split(",") if part.strip()}
        if any(e < 0 for e in chosen):
            raise ValueError(f"snapshot epochs must be >= 0, got {spec!r}")
    return sorted({e for e in chosen if e <= epochs} | {0, epochs})


def weights_by_path(model: keras.Model) -> Dict[str, np.ndarray]:
    """{'hidden_1/kernel': array, ...} for every trainable variable."""
    return {variable_name(model, v): np.asarray(v.numpy()) for v in model.trainable_weights}


class WeightSnapshots(keras.callbacks.Callback):
    def __init__(self, run_dir: str, epochs: Iterable[int]):
        super().__init__()
        self.run_dir = run_dir
        self.epochs = set(epochs)
        self.bytes_written: Dict[int, int] = {}

    def save(self, epoch: int) -> None:
        path = rundir.snapshot_path(self.run_dir, epoch)
        with rundir.atomic_path(path) as tmp:
            with open(tmp, "wb") as f:  # a file object keeps numpy from appending .npz
                np.savez_compressed(f, **weights_by_path(self.model))
        self.bytes_written[epoch] = os.path.getsize(path)

    def on_train_begin(self, logs=None):
        # On resume the model already holds later weights; epoch 0 was saved by the first start.
        if 0 in self.epochs and not os.path.exists(rundir.snapshot_path(self.run_dir, 0)):
            self.save(0)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.epochs:
            self.save(epoch + 1)
