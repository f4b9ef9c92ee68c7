"""StepCallback: callbacks that act at optimizer steps (steps.Step), not only at epoch ends.

The step is read from the optimizer once when a fit starts and counted on the host
afterwards, so knowing it costs no device round trip per batch.

Keras may run several steps per call (steps_per_execution) and then calls the batch
hooks once, after the last of them. `acts_at(step)` says at which steps a callback
needs to see the model; the loop (loop.py) only groups steps so that every such
step ends a call, and `on_step` is called at the steps the host sees.
"""
import math
from typing import Iterable

import keras


class StepCallback(keras.callbacks.Callback):
    """`self.step` is the number of optimizer updates made so far; subclasses override
    `on_step`, and `acts_at` when they act only at some steps."""

    def __init__(self):
        super().__init__()
        self.step = None
        self._epoch_start = None

    def on_train_begin(self, logs=None):
        self.step = int(self.model.optimizer.iterations.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.step

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the last batch (0-based, within this epoch of the fit) the call ran.
        self.step = (self.step + 1 if self._epoch_start is None else self._epoch_start + batch + 1)
        self.on_step(self.step)

    def on_step(self, step: int) -> None:
        """Called after the host sees optimizer update `step` (every step that acts_at names)."""

    def acts_at(self, step: int) -> bool:
        """Whether on_step reads or records anything at `step` (default: at every step)."""
        return True


def _overrides(callback, name: str) -> bool:
    return getattr(type(callback), name) is not getattr(keras.callbacks.Callback, name)


def acts_at(callback: keras.callbacks.Callback, step: int) -> bool:
    """Whether `callback` needs the model as it is after update `step` (not only at epoch
    ends). A callback that is not a StepCallback is asked through its batch hooks: Keras's
    TensorBoard only when it writes per batch or profiles; any other that implements
    them, at every step."""
    if isinstance(callback, StepCallback):
        return callback.acts_at(step)
    if isinstance(callback, keras.callbacks.TensorBoard):
        return callback.update_freq != "epoch" or getattr(callback, "_stop_batch", 0) > 0
    if hasattr(callback, "acts_at"):
        return callback.acts_at(step)
    return any(_overrides(callback, hook) for hook in ("on_train_batch_begin", "on_train_batch_end",
                                                       "on_batch_begin", "on_batch_end"))


def common_stride(callbacks: Iterable[keras.callbacks.Callback], start: int, end: int) -> int:
    """The largest number of steps that divides end - start and every distance from
    `start` to a step in (start, end) at which some callback acts: steps grouped into
    calls of that many end a call at each such step."""
    callbacks = list(callbacks)
    stride = end - start
    for s in range(start + 1, end):
        if stride == 1:
            break
        if (s - start) % stride and any(acts_at(c, s) for c in callbacks):
            stride = math.gcd(stride, s - start)
    return max(stride, 1)
