"""The paper-000 multilayer perceptron (Jesus et al. §3).

Inputs flattened; `depth` hidden Dense layers of `width` units with ReLU; a
softmax output. Weights Glorot-uniform, eq. (1): w ~ U(-sqrt(6/(m+n)), sqrt(6/(m+n)));
biases zero. It follows the Keras MNIST MLP example the paper built on.
"""
from typing import Any, Sequence, Tuple, Union

import keras

InitializerSpec = Union[str, dict, keras.initializers.Initializer]


def fresh_initializer(spec: InitializerSpec) -> keras.initializers.Initializer:
    """A new initializer object from a name, config dict or object.

    Each layer gets its own copy, so an object with a fixed seed is not shared
    (which would give layers of equal shape equal weights).
    """
    initializer = keras.initializers.get(spec)
    if initializer is None:
        raise ValueError(f"unknown initializer {spec!r}")
    return keras.initializers.deserialize(keras.initializers.serialize(initializer))


def _per_layer(spec: Any, count: int, what: str) -> Sequence[Any]:
    """One spec for every Dense layer, or a list with exactly one per layer."""
    if isinstance(spec, (list, tuple)):
        if len(spec) != count:
            raise ValueError(f"{what}: got {len(spec)} initializers for {count} Dense layers")
        return list(spec)
    return [spec] * count


def build_mlp(input_shape: Tuple[int, ...], num_classes: int, width: int = 256, depth: int = 2,
              activation: str = "relu",
              kernel_initializer: Union[InitializerSpec, Sequence[InitializerSpec]] = "glorot_uniform",
              bias_initializer: Union[InitializerSpec, Sequence[InitializerSpec]] = "zeros",
              dropout: float = 0.0, name: str = "mlp") -> keras.Model:
    """Returns the (uncompiled) MLP.

    Dense layers are named hidden_1..hidden_<depth> and output. Initializers are
    one spec for all Dense layers or a sequence of depth + 1 specs (hidden layers
    first, output last), which is how a single layer gets, say, a masked init.
    `dropout` > 0 adds a Dropout layer after each hidden layer.
    """
    if width < 1 or depth < 0:
        raise ValueError(f"width must be >= 1 and depth >= 0, got {width}, {depth}")
    kernels = _per_layer(kernel_initializer, depth + 1, "kernel_initializer")
    biases = _per_layer(bias_initializer, depth + 1, "bias_initializer")
    layers = [keras.Input(shape=tuple(input_shape), name="image"), keras.layers.Flatten(name="flatten")]
    for i in range(depth):
        layers.append(keras.layers.Dense(
            width, activation=activation, name=f"hidden_{i + 1}",
            kernel_initializer=fresh_initializer(kernels[i]),
            bias_initializer=fresh_initializer(biases[i])))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout_{i + 1}"))
    layers.append(keras.layers.Dense(
        num_classes, activation="softmax", name="output", dtype="float32",  # float32 under mixed precision
        kernel_initializer=fresh_initializer(kernels[-1]),
        bias_initializer=fresh_initializer(biases[-1])))
    return keras.Sequential(layers, name=name)
