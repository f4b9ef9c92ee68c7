"""Resumable state every N steps, and save points kept for rewinding.

Checkpoint: the state an interrupted run resumes from (training_state: weights,
optimizer, seed generators), every `every` optimizer steps; only the last is kept.
At an epoch end it is written in on_epoch_end, after history.csv (place it last),
so a resumed run never lacks the row of an epoch it skips. Keras's
BackupAndRestore restores weights but not the data stream's position; we need the
step *before* building the stream (pipeline.train_stream starts at any step).

SavePoints: the complete state at chosen steps (e.g. 0it and 500it), kept for
rewinding (paper 004 rewinds to iteration k): savepoints/step-NNNNNNNNN.*.
"""
from typing import Iterable

from keras_initstudy import rundir, training_state
from keras_initstudy.callbacks.clock import StepCallback

LATEST = "state"  # checkpoint/state.json names the step; its weights are checkpoint/state.weights.h5


def step_name(step: int) -> str:
    return f"step-{step:09d}"


class Checkpoint(StepCallback):
    def __init__(self, directory: str, every: int, steps_per_epoch: int):
        super().__init__()
        if every < 1:
            raise ValueError(f"checkpoint interval must be >= 1 step, got {every}")
        self.directory = directory
        self.every = every
        self.steps_per_epoch = steps_per_epoch

    def save(self) -> None:
        training_state.save(self.model, self.directory, LATEST, self.step)

    def acts_at(self, step):
        return step % self.every == 0 and step % self.steps_per_epoch != 0

    def on_step(self, step):
        if self.acts_at(step):
            self.save()  # mid-epoch; epoch ends are saved after the epoch's logs are written

    def on_epoch_end(self, epoch, logs=None):
        if self.step % self.every == 0 and self.step % self.steps_per_epoch == 0:
            self.save()


def restore(model, directory: str) -> int:
    """Loads the last checkpoint into a compiled model; returns the steps completed (0 if none)."""
    if not training_state.exists(directory, LATEST):
        return 0
    return training_state.load(model, directory, LATEST)


class SavePoints(StepCallback):
    """Keeps the complete state at each of `steps` (optimizer-update counts)."""

    def __init__(self, directory: str, steps: Iterable[int]):
        super().__init__()
        self.directory = directory
        self.steps = set(int(s) for s in steps)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.step in self.steps and not training_state.exists(self.directory, step_name(self.step)):
            training_state.save(self.model, self.directory, step_name(self.step), self.step)

    def acts_at(self, step):
        return step in self.steps

    def on_step(self, step):
        if step in self.steps:
            training_state.save(self.model, self.directory, step_name(step), step)


def save_point_steps(directory: str) -> list:
    """The steps that have a complete save point, ascending."""
    return sorted(int(n[len("step-"):]) for n in rundir.at(directory).state_names("step-"))


def load_save_point(model, directory: str, step: int) -> int:
    """Restores the state saved at `step` (weights, optimizer, seed generators) into a compiled model."""
    if not training_state.exists(directory, step_name(step)):
        raise FileNotFoundError(f"no save point at step {step} in {directory} (have: {save_point_steps(directory)})")
    return training_state.load(model, directory, step_name(step))
