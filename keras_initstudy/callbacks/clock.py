"""StepCallback: callbacks that act at optimizer steps (steps.Step), not only at epoch ends.

The step is read from the optimizer once when a fit starts and counted on the host
afterwards, so knowing it costs no device round trip per batch.
"""
import keras


class StepCallback(keras.callbacks.Callback):
    """`self.step` is the number of optimizer updates made so far; subclasses override `on_step`."""

    def __init__(self):
        super().__init__()
        self.step = None

    def on_train_begin(self, logs=None):
        self.step = int(self.model.optimizer.iterations.numpy())

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.on_step(self.step)

    def on_step(self, step: int) -> None:
        """Called after every optimizer update with the updates made so far."""
