"""What many test modules share: the small run settings, interrupts, and the temporary folders.

    from tests.helpers import SMALL, InterruptAtStep, InterruptAtEpoch, ClassTempDirTestCase, TempDirTestCase
"""
from typing import Callable, Optional

import keras

from keras_initstudy.callbacks import clock
from tests.class_tempdir import ClassTempDirTestCase, TempDirTestCase  # noqa: F401 (re-exported)

# A run that takes a few seconds on the embedded data: the MLP at width 16, op determinism
# on (so resumed and uninterrupted runs can be compared bit for bit), no weight images.
SMALL = dict(width=16, nondeterminism="deterministic", weight_images=False)
STEPS_PER_EPOCH = 47  # fashion_mnist_mini: 6,000 images in batches of 128


class InterruptAtStep(clock.StepCallback):
    """Raises KeyboardInterrupt right after optimizer step `at`, as a kill would (when
    `when()` holds, if given: e.g. only once a round is done)."""

    def __init__(self, at: int, when: Optional[Callable[[], bool]] = None):
        super().__init__()
        self.at, self.when = at, when

    def on_step(self, step):
        if step == self.at and (self.when is None or self.when()):
            raise KeyboardInterrupt


class InterruptAtEpoch(keras.callbacks.Callback):
    """Raises KeyboardInterrupt at the start of epoch `at` (0-based), after `at` epochs were checkpointed."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt
