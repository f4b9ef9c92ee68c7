"""Paper 002 §2.1 / App. E: a one-hidden-layer ReLU MLP whose hidden units are
replicas of `unique` He-initialised units (plus noise `noise`); second layer He."""
from __future__ import annotations

from typing import Tuple

from keras_initstudy import lazy, seeds

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow
initializers = lazy.module("keras_initstudy.initializers")


def build_replicated_mlp(input_shape: Tuple[int, ...], num_classes: int, unique: int, replicas: int,
                         noise: float = 0.0, dropout: float = 0.0, seed: int = 0) -> keras.Model:
    layers = [keras.Input(shape=tuple(input_shape), name="image"), keras.layers.Flatten(name="flatten"),
              keras.layers.Dense(unique * replicas, activation="relu", name="hidden",
                                 kernel_initializer=initializers.ReplicatedUnits(
                                     unique, replicas, noise, seed=seeds.derive(seed, "hidden", "kernel")))]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="dropout", seed=seeds.derive(seed, "dropout")))
    layers.append(keras.layers.Dense(num_classes, activation="softmax", name="output", kernel_initializer=(
        keras.initializers.HeNormal(seed=seeds.derive(seed, "output", "kernel")))))
    return keras.Sequential(layers, name="replicated_mlp")
