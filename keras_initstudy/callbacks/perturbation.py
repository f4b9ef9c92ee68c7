"""Symmetry-breaking perturbation norms (paper 002 App. G, Figs. 9-10).

For a feature tensor h (batch, height, width, channels), the symmetric part is
its projection on the all-ones channel direction (the channel mean, broadcast);
the perturbation is what is left. The logged value is
    ||h - mean_c(h)|| / ||h||
for the activations of chosen layers and, with the same formula, for the
gradients of the loss with respect to them, on a fixed probe batch, in
inference mode. 0 means perfectly symmetric features.
"""
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf


def perturbation_ratio(h) -> float:
    h = tf.cast(h, tf.float64)
    total = tf.norm(h)
    if float(total) == 0.0:
        return 0.0
    return float(tf.norm(h - tf.reduce_mean(h, axis=-1, keepdims=True)) / total)


class SymmetryPerturbation(keras.callbacks.Callback):
    """Logs `perturb/<layer>` and `perturb_grad/<layer>` each epoch for the given layers
    (a ModelSpec's `features` by default: the stem, widening convs and block outputs)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, layers: Sequence[str]):
        super().__init__()
        self.images = tf.constant(images)
        self.labels = tf.constant(labels)
        self.layer_names = list(layers)
        self._probe = None

    def measure(self) -> dict:
        if self._probe is None:
            names = self.layer_names
            self._probe = keras.Model(self.model.inputs,
                                      [self.model.get_layer(n).output for n in names] + [self.model.output])
        with tf.GradientTape() as tape:
            *features, probs = self._probe(self.images, training=False)
            loss = self.model.loss(self.labels, probs)
        grads = tape.gradient(loss, features)
        values = {}
        for name, h, g in zip(self.layer_names, features, grads):
            values[f"perturb/{name}"] = perturbation_ratio(h)
            values[f"perturb_grad/{name}"] = perturbation_ratio(g) if g is not None else float("nan")
        return values

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.measure())
