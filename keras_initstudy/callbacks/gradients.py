"""Paper 001 §4: the distribution of each layer's kernel gradients, for the first N update
steps and then at every epoch end, to show who learns first (under zero weights with
random biases, the output layer moves first and the first layer last).

Per logged step and kernel layer, gradients.csv holds the raw gradient values' min, 5%,
25%, 50%, 75%, 95% quantiles and max, and TensorBoard (tb/gradients) a histogram. The
gradient is that of the loss on a fixed probe batch (seeded training examples) in inference
mode, at the weights after `step` updates: the callback cannot see Keras's own batch, and
a fixed batch makes steps comparable. Step 0 is the initial state.
"""
import os
from typing import Dict

import keras
import numpy as np
import tensorflow as tf

from keras_initstudy import rundir
from keras_initstudy.callbacks.clock import StepCallback
from keras_initstudy.callbacks.history import read_history

QUANTILES = {"min": 0.0, "q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95, "max": 1.0}


def gradients_path(run_dir: str) -> str:
    return os.path.join(run_dir, "gradients.csv")


def kernel_gradients(model: keras.Model, kernels: Dict[str, object], images, labels) -> Dict[str, np.ndarray]:
    """{'hidden_1/kernel': dL/dW} on one batch, in inference mode."""
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(labels, model(images, training=False))
    grads = tape.gradient(loss, list(kernels.values()))
    return {name: np.asarray(g) for name, g in zip(kernels, grads)}


def quantile_row(values: np.ndarray) -> Dict[str, float]:
    flat = np.asarray(values, np.float64).ravel()
    return dict(zip(QUANTILES, np.quantile(flat, list(QUANTILES.values())).tolist()))


class GradientQuantiles(StepCallback):
    def __init__(self, run_dir: str, kernels: Dict[str, object], probe: tuple, first_steps: int,
                 steps_per_epoch: int, flush_every: int = 0):
        super().__init__()
        self.run_dir, self.kernels = run_dir, dict(kernels)
        self.images, self.labels = (tf.constant(x) for x in probe)
        self.first_steps, self.per_epoch = first_steps, steps_per_epoch
        self.flush_every = flush_every or steps_per_epoch
        self.rows = None
        self.writer = None

    def logs_at(self, step: int) -> bool:
        return step <= self.first_steps or step % self.per_epoch == 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.rows is None:
            self.rows = [r for r in read_history(gradients_path(self.run_dir)) if int(r["step"]) < self.step]
            self.writer = tf.summary.create_file_writer(os.path.join(rundir.tensorboard_dir(self.run_dir),
                                                                     "gradients"))
        if not self.rows or int(self.rows[-1]["step"]) < self.step:
            self.record(self.step)

    def on_step(self, step):
        if self.logs_at(step):
            self.record(step)

    def record(self, step: int) -> None:
        grads = kernel_gradients(self.model, self.kernels, self.images, self.labels)
        with self.writer.as_default(step=step):
            for name, values in grads.items():
                self.rows.append({"step": step, "epoch": step / self.per_epoch, "layer": name.split("/")[0],
                                  **quantile_row(values)})
                tf.summary.histogram(f"gradients/{name}", values)
        if step % self.flush_every == 0 or step == self.first_steps:
            self.flush()

    def flush(self) -> None:
        rundir.write_rows(gradients_path(self.run_dir), self.rows)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.flush()
