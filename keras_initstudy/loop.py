"""The training loop: a given, built and compiled model, from optimizer step a to step b.

    loop.train_steps(model, stream, start=0, end=500, steps_per_epoch=47, callbacks=[...])

It owns nothing else: no config, no run directory, no model building, so the same
loop trains a fresh model, a resumed one, a masked one or one rewound to step k.
`stream(a, b)` yields the batches of steps a..b-1 (pipeline.train_stream).

It is model.fit, called once per segment: Keras counts time in epochs, so a range
that starts or ends mid-epoch is split into a partial first epoch, whole epochs,
and a partial last epoch. Keras's epoch index stays the true epoch (initial_epoch),
so epoch-level callbacks, TensorBoard and validation see the run's own clock; a
partial last segment ends with an evaluation at step b.

Steps run in groups of `steps_per_execution` per call into TensorFlow ("auto": as many
as the callbacks allow, clock.common_stride), since on a CPU Keras's per-call overhead
outweighs a small MLP's step; the numbers do not change, only how often the host looks.
"""
import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

import keras
import tensorflow as tf

from keras_initstudy.callbacks import clock
from keras_initstudy.callbacks.history import TestSplitProgbar


def segments(start: int, end: int, steps_per_epoch: int) -> List[Tuple[int, int]]:
    """[a, b) step ranges that each lie in one epoch or cover whole epochs."""
    if not 0 <= start <= end or steps_per_epoch < 1:
        raise ValueError(f"bad step range {start}..{end} (steps per epoch {steps_per_epoch})")
    out, a = [], start
    if a % steps_per_epoch and a < end:
        b = min(end, (a // steps_per_epoch + 1) * steps_per_epoch)
        out.append((a, b))
        a = b
    whole_end = end // steps_per_epoch * steps_per_epoch
    if a < whole_end:
        out.append((a, whole_end))
        a = whole_end
    if a < end:
        out.append((a, end))
    return out


def train_steps(model: keras.Model, stream: Callable[[int, int], tf.data.Dataset], start: int, end: int,
                steps_per_epoch: int, callbacks: Sequence[keras.callbacks.Callback] = (),
                validation_data: Optional[tf.data.Dataset] = None, verbose: int = 0,
                steps_per_execution: Union[int, str] = "auto") -> None:
    """Trains `model` (whose optimizer has made `start` updates) until it has made `end`.
    `steps_per_execution`: steps per call ("auto": execution_stride; 1: the host sees every step).
    `validation_data` is the test split: the console names its metrics test_ (TestSplitProgbar)."""
    at = int(model.optimizer.iterations.numpy())
    if at != start:
        raise ValueError(f"the model's optimizer is at step {at}, not at the start step {start}")
    for a, b in segments(start, end, steps_per_epoch):
        first_epoch = a // steps_per_epoch
        whole = a % steps_per_epoch == 0 and b % steps_per_epoch == 0
        set_steps_per_execution(model, execution_stride(callbacks, a, b, steps_per_epoch)
                                if steps_per_execution == "auto" else steps_per_execution)
        model.fit(stream(a, b), initial_epoch=first_epoch,
                  epochs=b // steps_per_epoch if whole else first_epoch + 1,
                  steps_per_epoch=steps_per_epoch if whole else b - a,
                  validation_data=validation_data, shuffle=False,  # the stream is already shuffled
                  callbacks=[*callbacks, TestSplitProgbar()] if verbose else list(callbacks), verbose=verbose)


def execution_stride(callbacks: Sequence[keras.callbacks.Callback], a: int, b: int, steps_per_epoch: int) -> int:
    """Steps per call for the segment [a, b): every epoch end, and every step at which a
    callback acts, ends a call."""
    stride = clock.common_stride(callbacks, a, b)
    return math.gcd(stride, steps_per_epoch) if a % steps_per_epoch == 0 and b - a > steps_per_epoch else stride


def set_steps_per_execution(model: keras.Model, steps: int) -> None:
    """Keras reads steps_per_execution when it traces its train and test functions."""
    if steps < 1:
        raise ValueError(f"steps_per_execution must be >= 1, got {steps}")
    if model.steps_per_execution != steps:
        model.steps_per_execution = steps
        model.train_function = model.test_function = model.predict_function = None
