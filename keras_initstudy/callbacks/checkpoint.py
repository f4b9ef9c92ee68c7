"""The state an interrupted run resumes from: weights and optimizer after each epoch.

Keras's BackupAndRestore restores weights but not the position of the data
stream; we need the epoch *before* building the stream (see pipeline.py), so
this small callback keeps both in the run directory:
    checkpoint/epoch-NNNNN.weights.h5   model and optimizer variables
    checkpoint/state.json               {"epoch": N, "weights": "epoch-NNNNN.weights.h5"}
state.json is written after the weights it names, so it never points at a
partial file; older weight files are removed afterwards.
"""
import glob
import json
import os

import keras

from keras_initstudy import rundir


def _state_path(directory: str) -> str:
    return os.path.join(directory, "state.json")


class EpochCheckpoint(keras.callbacks.Callback):
    def __init__(self, directory: str):
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch, logs=None):
        name = f"epoch-{epoch + 1:05d}.weights.h5"
        with rundir.atomic_path(os.path.join(self.directory, name)) as tmp:
            self.model.save_weights(tmp)
        rundir.write_json(_state_path(self.directory), {"epoch": epoch + 1, "weights": name})
        for old in glob.glob(os.path.join(self.directory, "epoch-*.weights.h5")):
            if os.path.basename(old) != name:
                os.remove(old)


def restore(model: keras.Model, directory: str) -> int:
    """Loads the last checkpoint into a compiled `model`; returns epochs completed (0 if none)."""
    path = _state_path(directory)
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(directory, state["weights"]))
    return int(state["epoch"])
