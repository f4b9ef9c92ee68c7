"""Paper 001 §4: the distribution of each layer's kernel gradients, for the first N update
steps and then at every epoch end, to show who learns first (under zero weights with
random biases, the output layer moves first and the first layer last).

Per logged step and kernel layer, gradients.csv holds the raw gradient values' min, 5%,
25%, 50%, 75%, 95% quantiles and max, and TensorBoard (tb/gradients) a histogram. The
gradient is that of the loss on a fixed probe batch (seeded training examples) in inference
mode, at the weights after `step` updates: the callback cannot see Keras's own batch, and
a fixed batch makes steps comparable. Step 0 is the initial state.
"""
from typing import Dict, List

import keras
import numpy as np
import tensorflow as tf

from keras_initstudy import rundir
from keras_initstudy.callbacks.step_log import StepLog

QUANTILES = {"min": 0.0, "q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95, "max": 1.0}


def kernel_gradients(model: keras.Model, kernels: Dict[str, object], images, labels) -> Dict[str, np.ndarray]:
    """{'hidden_1/kernel': dL/dW} on one batch, in inference mode."""
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(labels, model(images, training=False))
    grads = tape.gradient(loss, list(kernels.values()))
    return {name: np.asarray(g) for name, g in zip(kernels, grads)}


def quantile_row(values: np.ndarray) -> Dict[str, float]:
    flat = np.asarray(values, np.float64).ravel()
    return dict(zip(QUANTILES, np.quantile(flat, list(QUANTILES.values())).tolist()))


class GradientQuantiles(StepLog):
    def __init__(self, run_dir: str, kernels: Dict[str, object], probe: tuple, first_steps: int,
                 steps_per_epoch: int, flush_every: int = 0):
        super().__init__(rundir.at(run_dir).gradients, rundir.at(run_dir).tensorboard_run("gradients"), steps_per_epoch,
                         flush_every)
        self.kernels = dict(kernels)
        self.images, self.labels = (tf.constant(x) for x in probe)
        self.first_steps = first_steps
        self._grads = None

    def logs_at(self, step: int) -> bool:
        return step <= self.first_steps or step % self.per_epoch == 0

    def flushes_at(self, step: int) -> bool:
        return super().flushes_at(step) or step == self.first_steps

    def measure(self, step: int) -> List[Dict]:
        self._grads = kernel_gradients(self.model, self.kernels, self.images, self.labels)
        return [{"step": step, "epoch": step / self.per_epoch, "layer": name.split("/")[0], **quantile_row(values)}
                for name, values in self._grads.items()]

    def summarise(self, rows: List[Dict]) -> None:
        for name, values in self._grads.items():
            tf.summary.histogram(f"gradients/{name}", values)
