"""ConstNet and its He-initialised Wide-ResNet twin (paper 002 §2.2, App. A).

    image -> conv3x3 (16 ch; averages the input channels: identical features)
          -> 3 stages; each: widening conv1x1 (to 16k, 32k, 64k channels; stride 1, 2, 2;
             every entry 1/C_in, an averaging) then blocks x + conv3x3(relu(bn(x)))
             with the conv initialised to zero (a single conv per block, activation first)
          -> bn -> relu -> global average pooling -> Dense (zero) -> softmax

`init='he'` gives the same graph He-initialised (the paper's Wide-ResNet
baseline). Blocks are spread over the stages as evenly as possible (12 -> 4, 4,
4). Dropout, when asked for, follows every conv, the first included (App. I: the
first layer is where dropout must act to break the first symmetry).
"""
import dataclasses
from typing import Optional, Tuple

import keras

from keras_initstudy import initializers, seeds
from keras_initstudy.models.mlp import DROPOUT, INITIALIZER
from keras_initstudy.models.registry import ModelConfig, ModelSpec, Seeds, register
from keras_initstudy.settings import at_least, setting

STEM_CHANNELS = 16
# PyTorch's BatchNorm2d defaults (the authors' code is PyTorch): running averages
# updated with weight 0.1 (Keras momentum 0.9, not Keras's 0.99), epsilon 1e-5.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm_layer(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)
STAGE_WIDTHS = (16, 32, 64)
STAGE_STRIDES = (1, 2, 2)


def blocks_per_stage(num_blocks: int):
    base, extra = divmod(num_blocks, len(STAGE_WIDTHS))
    return [base + (1 if s < extra else 0) for s in range(len(STAGE_WIDTHS))]


def _maybe_dropout(x, rate, name, data_seed=0):
    return keras.layers.Dropout(rate, name=name, seed=seeds.derive(data_seed, name))(x) if rate else x


def _norm_relu(x, batch_norm, name):
    if batch_norm:
        x = batch_norm_layer(f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_constnet(input_shape: Tuple[int, ...], num_classes: int, widen_factor: int = 10,
                   num_blocks: int = 12, batch_norm: bool = True, dropout: float = 0.0,
                   init: str = "const", name: Optional[str] = None, kernel_initializer: str = "he_normal",
                   init_seed: int = 0, data_seed: Optional[int] = None) -> keras.Model:
    """`init='const'`: ConstNet; `init='he'`: the same graph with every conv drawn
    by `kernel_initializer` (seeded per layer from init_seed) and a Glorot output."""
    if init not in ("const", "he"):
        raise ValueError(f"init must be 'const' or 'he', got {init!r}")
    const = init == "const"
    data_seed = init_seed if data_seed is None else data_seed

    def conv(channels, size, stride, const_init, layer_name):
        init_ = const_init if const else initializers.from_spec(
            kernel_initializer, seeds.derive(init_seed, layer_name, "kernel"))
        return keras.layers.Conv2D(channels, size, strides=stride, padding="same", use_bias=False,
                                   kernel_initializer=init_, name=layer_name)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv(STEM_CHANNELS, 3, 1, initializers.ChannelAveraging(), "stem_conv")(inputs)
    x = _maybe_dropout(x, dropout, "stem_dropout", data_seed)
    for stage, (width, stride, count) in enumerate(
            zip(STAGE_WIDTHS, STAGE_STRIDES, blocks_per_stage(num_blocks)), start=1):
        x = conv(width * widen_factor, 1, stride, initializers.ChannelAveraging(), f"stage{stage}_widen")(x)
        for b in range(1, count + 1):
            prefix = f"stage{stage}_block{b}"
            h = _norm_relu(x, batch_norm, prefix)
            h = conv(width * widen_factor, 3, 1, "zeros", f"{prefix}_conv")(h)
            h = _maybe_dropout(h, dropout, f"{prefix}_dropout", data_seed)
            x = keras.layers.Add(name=f"{prefix}_add")([x, h])
    x = _norm_relu(x, batch_norm, "final")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    output_init = "zeros" if const else initializers.from_spec(
        "glorot_uniform", seeds.derive(init_seed, "output", "kernel"))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output", dtype="float32",
                                 kernel_initializer=output_init)(x)
    return keras.Model(inputs, outputs, name=name or ("constnet" if const else "wrn"))


def feature_layers(model: keras.Model) -> Tuple[str, ...]:
    """The stem, every widening conv, and each block's output (paper 002 App. G's probes)."""
    return tuple(layer.name for layer in model.layers
                 if layer.name == "stem_conv" or layer.name.endswith(("_widen", "_add", "_b_leaky")))


@dataclasses.dataclass(frozen=True)
class ConstNetConfig(ModelConfig):
    widen_factor: int = setting(10, "Widths 16k, 32k, 64k (paper 002 App. A: k = 10).", at_least(1))
    num_blocks: int = setting(12, "Skippable blocks (paper 002 App. A: 12); LeakyNet: block convs, even.",
                              at_least(0))
    batch_norm: bool = setting(True, "Batch norm before each activation (gamma 1, beta 0 at init; "
                               "paper 002 App. A: on).")
    dropout: float = setting(0.0, "Dropout rate after every hidden Dense layer (convnets: after every conv).",
                             DROPOUT)


@dataclasses.dataclass(frozen=True)
class WRNConfig(ConstNetConfig):
    kernel_initializer: str = setting("he_normal", "Initializer of the weights: a Keras name or "
                                      "name(key=value, ...) (paper 002's WRN baseline: he_normal).", INITIALIZER)


def _build(init: str):
    def build(cfg: ConstNetConfig, info, seeds_: Seeds) -> ModelSpec:
        model = build_constnet(info.input_shape, info.num_classes, widen_factor=cfg.widen_factor,
                               num_blocks=cfg.num_blocks, batch_norm=cfg.batch_norm, dropout=cfg.dropout,
                               init=init, kernel_initializer=getattr(cfg, "kernel_initializer", "he_normal"),
                               init_seed=seeds_.init, data_seed=seeds_.data)
        return ModelSpec.of(model, features=feature_layers(model))
    return build


register("constnet", ConstNetConfig)(_build("const"))  # paper 002: identical features at init
register("wrn", WRNConfig)(_build("he"))  # paper 002's baseline: the same graph, He-initialised
