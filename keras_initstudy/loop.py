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
"""
from typing import Callable, List, Optional, Sequence, Tuple

import keras
import tensorflow as tf


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
                validation_data: Optional[tf.data.Dataset] = None, verbose: int = 0) -> None:
    """Trains `model` (whose optimizer has made `start` updates) until it has made `end`."""
    at = int(model.optimizer.iterations.numpy())
    if at != start:
        raise ValueError(f"the model's optimizer is at step {at}, not at the start step {start}")
    for a, b in segments(start, end, steps_per_epoch):
        first_epoch = a // steps_per_epoch
        whole = a % steps_per_epoch == 0 and b % steps_per_epoch == 0
        model.fit(stream(a, b), initial_epoch=first_epoch,
                  epochs=b // steps_per_epoch if whole else first_epoch + 1,
                  steps_per_epoch=steps_per_epoch if whole else b - a,
                  validation_data=validation_data, shuffle=False,  # the stream is already shuffled
                  callbacks=list(callbacks), verbose=verbose)
