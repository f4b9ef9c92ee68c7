"""A copy of a model's initial weights kept on the model's device.

Measurements against w(0) (RMSD, deviation histograms) read this copy instead of
pulling the weights to the host every epoch. It must be taken right after the
model is built, before a resumed run restores its checkpoint.
"""
from typing import Dict, List

import keras
import tensorflow as tf


def is_edge_weight(variable) -> bool:
    """Paper 000 counts 'weights' as the edges of the network: kernels (2-D or more), not biases."""
    return len(variable.shape) >= 2


def variable_name(model: keras.Model, variable) -> str:
    """The variable's path without the model's own name: 'hidden_1/kernel'."""
    prefix = model.name + "/"
    return variable.path[len(prefix):] if variable.path.startswith(prefix) else variable.path


def layer_of(name: str) -> str:
    """'hidden_1' for 'hidden_1/kernel'."""
    return name.rsplit("/", 1)[0]


class InitialWeights:
    def __init__(self, model: keras.Model, include_biases: bool = False):
        self.variables: List = [v for v in model.trainable_weights
                                if include_biases or is_edge_weight(v)]
        self.names: List[str] = [variable_name(model, v) for v in self.variables]
        self.initial: List[tf.Variable] = [
            tf.Variable(tf.identity(v.value), trainable=False) for v in self.variables]

    def by_layer(self) -> Dict[str, List[int]]:
        """Layer name -> indices into self.variables, in model order."""
        groups: Dict[str, List[int]] = {}
        for i, name in enumerate(self.names):
            groups.setdefault(layer_of(name), []).append(i)
        return groups
