"""The paper-000 multilayer perceptron (Jesus et al. §3), its config and its builder.

Inputs flattened; `depth` hidden Dense layers of `width` units with ReLU; a
softmax output. Weights Glorot-uniform, eq. (1): w ~ U(-sqrt(6/(m+n)), sqrt(6/(m+n)));
biases zero. It follows the Keras MNIST MLP example the paper built on. Each
layer's initial weights are drawn with their own seed, derived from the init seed
and the layer's name (seeds.py).
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Optional, Sequence, Tuple, Union

import numpy as np

from keras_initstudy import lazy, masks, seeds, settings, specs
from keras_initstudy.models.registry import ModelConfig, ModelSpec, Seeds, register
from keras_initstudy.settings import at_least, between, setting

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow
initializers = lazy.module("keras_initstudy.initializers")

InitializerSpec = Union[str, dict, "keras.initializers.Initializer"]


def activation_layer(spec: str, name: str) -> Optional[keras.layers.Layer]:
    """A separate layer for an activation with arguments ('leaky_relu(negative_slope=0.05)');
    None for a plain Keras name, which the Dense layer applies itself."""
    base, kwargs = specs.parse_spec(spec)
    if not kwargs:
        keras.activations.get(base)  # raises for an unknown name
        return None
    if base != "leaky_relu":
        raise ValueError(f"activation {spec!r}: only leaky_relu takes arguments")
    return keras.layers.LeakyReLU(name=name, **kwargs)


INITIALIZER = settings.parses(specs.check_initializer,
                              "must be an initializer: a Keras name (glorot_uniform, he_normal) or "
                              "name(key=value, ...), e.g. random_normal(stddev=0.5)")
ACTIVATION = settings.parses(specs.check_activation, "must name a Keras activation (e.g. relu, tanh) or "
                                                     "leaky_relu(negative_slope=0.05)")
# masks.check_text raises ValueError for a character the font lacks; a Check reads that as False.
MASK = settings.Check(lambda v: v == "none" or (len(v) <= 8 and masks.check_text(v) is None),
                      "must be none or 1-8 characters the mask font can draw (DejaVu Sans: Latin, Greek, "
                      "Cyrillic, symbols; not CJK)")
DROPOUT = between(0.0, 0.99)


@dataclasses.dataclass(frozen=True)
class MLPConfig(ModelConfig):
    stackable: ClassVar[bool] = True
    width: int = setting(256, "Units per hidden layer (paper 000 §3, Fig. 1(b): 256).", at_least(1))
    depth: int = setting(2, "Number of hidden layers (paper 000 §3: 2).", at_least(0))
    activation: str = setting("relu", "Hidden-layer activation, a Keras name (paper 000 §3: relu).", ACTIVATION)
    kernel_initializer: str = setting(
        "glorot_uniform", "Initializer of the weights: a Keras name or name(key=value, ...) "
        "(paper 000 eq. 1: glorot_uniform).", INITIALIZER)
    bias_initializer: str = setting("zeros", "Initializer of the biases (paper 000 §3: zeros).", INITIALIZER)
    mask: str = setting("none", "Letter(s) stamped on one initial weight matrix (paper 000 Fig. 1: a); "
                        "weights outside the mark start at exactly zero. none: no mark.", MASK)
    mask_layer: int = setting(1, "Dense kernel carrying the mask: 0 = input->hidden_1, 1 = hidden-to-hidden "
                              "(paper 000 Fig. 1), depth = last hidden->output.", at_least(0))
    dropout: float = setting(0.0, "Dropout rate after every hidden Dense layer (convnets: after every conv).",
                             DROPOUT)

    def validate(self):
        if self.mask_layer > self.depth:
            raise settings.ConfigError(f"mask_layer={self.mask_layer}: must be at most depth={self.depth} "
                                       f"(kernels are numbered 0..depth)")


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
              dropout: float = 0.0, name: str = "mlp", init_seed: int = 0, data_seed: Optional[int] = None,
              mask: Optional[str] = None, mask_layer: int = 1,
              hidden: Optional[Sequence[int]] = None) -> keras.Model:
    """Returns the (uncompiled) MLP.

    `depth` hidden Dense layers of `width` units, or one per entry of `hidden`
    (LeNet-300-100: hidden=(300, 100)), named hidden_1.. and output. Initializers
    are one spec for all Dense layers or a sequence with one per layer (hidden
    first, output last); each layer's draw is seeded from (init_seed, its name), and
    initializers that need it get the layer's fan_in. `activation` is a Keras name
    or leaky_relu(negative_slope=...). `mask` stamps a glyph on kernel `mask_layer`.
    `dropout` > 0 adds a Dropout layer after each hidden layer, seeded from
    data_seed (default: init_seed).
    """
    hidden = [width] * depth if hidden is None else list(hidden)
    if any(w < 1 for w in hidden) or width < 1 or depth < 0:
        raise ValueError(f"hidden widths must be >= 1 and depth >= 0, got {hidden}, {depth}")
    depth = len(hidden)
    data_seed = init_seed if data_seed is None else data_seed
    kernels = _per_layer(kernel_initializer, depth + 1, "kernel_initializer")
    biases = _per_layer(bias_initializer, depth + 1, "bias_initializer")
    names = [f"hidden_{i + 1}" for i in range(depth)] + ["output"]
    fan_ins = [int(np.prod(input_shape))] + hidden

    def dense(i, units, **kwargs):
        kernel = initializers.from_spec(kernels[i], seeds.derive(init_seed, names[i], "kernel"))
        if i == mask_layer:
            kernel = initializers.masked_or_plain(kernel, mask)
        bias = initializers.from_spec(biases[i], seeds.derive(init_seed, names[i], "bias"), fan_in=fan_ins[i])
        return keras.layers.Dense(units, name=names[i], kernel_initializer=kernel, bias_initializer=bias, **kwargs)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(hidden):
        separate = activation_layer(activation, f"{names[i]}_activation")
        x = dense(i, units, activation=None if separate else activation)(x)
        if separate is not None:
            x = separate(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i + 1}",
                                     seed=seeds.derive(data_seed, f"dropout_{i + 1}"))(x)
    # float32 output under mixed precision
    outputs = dense(depth, num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


@register("mlp", MLPConfig)
def build(cfg: MLPConfig, info, seeds_: Seeds) -> ModelSpec:
    model = build_mlp(info.input_shape, info.num_classes, width=cfg.width, depth=cfg.depth,
                      activation=cfg.activation, kernel_initializer=cfg.kernel_initializer,
                      bias_initializer=cfg.bias_initializer, dropout=cfg.dropout,
                      init_seed=seeds_.init, data_seed=seeds_.data, mask=cfg.mask, mask_layer=cfg.mask_layer)
    return ModelSpec.of(model)
