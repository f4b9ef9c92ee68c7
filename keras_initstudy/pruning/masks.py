"""Pruning masks: pruned weights are exactly zero after every optimizer step.

A mask is a 0/1 variable per pruned weight tensor, attached to that tensor as its
Keras `constraint`. Keras 3 applies a variable's constraint right after every
update (BaseOptimizer.apply), whatever the optimizer, so momentum or Adam moments
that keep pushing a pruned weight are undone at every step: w <- w * mask.

Why not tensorflow-model-optimization: its pruning API (prune_low_magnitude,
version 0.8) works only with tf_keras, the Keras 2 package; under Keras 3 it fails
to import, and its maintainers plan no Keras 3 support (tensorflow/model-optimization
#1119, keras-team/keras#23082).
"""
import os
from typing import Dict, Mapping, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_initstudy import rundir


class MaskConstraint(keras.constraints.Constraint):
    """w * mask, with the mask a non-trainable 0/1 variable of w's shape."""

    def __init__(self, mask: tf.Variable):
        self.mask = mask

    def __call__(self, w):
        return w * tf.cast(self.mask, w.dtype)


class Masks:
    """The masks of one model, by weight name ('hidden_1/kernel'), attached on creation.

    Build it before the model's first training step (the train step reads each
    variable's constraint when it is traced)."""

    def __init__(self, variables: Mapping[str, object]):
        self.variables = dict(variables)
        self.masks: Dict[str, tf.Variable] = {}
        for name, variable in self.variables.items():
            if variable.constraint is not None:
                raise ValueError(f"{name} already has a constraint; a mask would replace it")
            self.masks[name] = tf.Variable(tf.ones(variable.shape, tf.float32), trainable=False,
                                           name=name.replace("/", "_") + "_mask")
            variable.constraint = MaskConstraint(self.masks[name])

    @classmethod
    def attach(cls, spec, layers=None, include_biases: bool = False) -> "Masks":
        """Masks on the spec's prunable kernels (or the given layers' kernels), and their
        biases when asked (the authors' code of paper 003 prunes biases too)."""
        layers = spec.prunable if layers is None else layers
        variables = {}
        for name in layers:
            layer = spec.model.get_layer(name)
            variables[f"{name}/kernel"] = layer.kernel
            if include_biases and getattr(layer, "bias", None) is not None:
                variables[f"{name}/bias"] = layer.bias
        return cls(variables)

    def numpy(self) -> Dict[str, np.ndarray]:
        return {name: mask.numpy().astype(bool) for name, mask in self.masks.items()}

    def assign(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Sets every mask and zeroes the weights it prunes."""
        if set(arrays) != set(self.masks):
            raise ValueError(f"masks for {sorted(arrays)}, expected {sorted(self.masks)}")
        for name, array in arrays.items():
            self.masks[name].assign(np.asarray(array, np.float32))
        self.apply()

    def apply(self) -> None:
        """w <- w * mask for every masked weight (after loading weights from elsewhere)."""
        for name, variable in self.variables.items():
            variable.assign(variable.constraint(variable))

    def counts(self) -> Dict[str, Tuple[int, int]]:
        """{name: (weights remaining, weights in all)}."""
        return {name: (int(mask.numpy().sum()), int(np.prod(mask.shape))) for name, mask in self.masks.items()}


def save(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """A mask set as a compressed .npz (keys are weight names), written atomically."""
    rundir.write_npz(path, {k: np.asarray(v, bool) for k, v in arrays.items()})


def load(path: str) -> Dict[str, np.ndarray]:
    return {k: v.astype(bool) for k, v in rundir.read_npz(path).items()}


def exists(path: str) -> bool:
    return os.path.exists(path)
