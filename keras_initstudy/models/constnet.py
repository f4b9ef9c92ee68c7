"""ConstNet and ConstNet He (paper 002 §2.2, App. A), built as the authors' model.py builds them.

    image -> stem conv3x3 (16 channels)
          -> 3 stages of num_blocks / 3 blocks (widths 16k, 32k, 64k; the first block of a
             stage has stride 1, 2, 2). A block, activation first (App. A):
                 a = bn(x);  h = conv3x3(relu(a))  [-> dropout]
                 out = x + h                       if the block keeps the width
                 out = conv1x1_stride(a) + h       if it widens (the stage's first block)
          -> relu -> global average pooling -> Dense (zero)

ConstNet (`init='const'`): the stem and every 1x1 shortcut average their input
channels (every centre tap 1/C_in: identical features), every 3x3 block conv is
zero (each block is skippable at init). ConstNet He (`init='he'`, the code's
random variant): every conv drawn from N(0, gain^2 / fan_out) with fan_out =
k*k*C_out, gain^2 = 2 for the block convs and 1 for the stem and the shortcuts;
the final Dense stays zero. Depth as the code counts it is 3 * blocks + 4
(12 blocks: depth 16; 17,115,354 trainable parameters at k = 10 on CIFAR-10).

Dropout (rate `dropout`) follows each block's 3x3 conv, as the authors' Table 1
run (--droprate) applies it; `dropout_stem` also drops after the stem (their
--dropl1; App. I's "dropout on all layers").

Departures from model.py, by design: its blocks hold three scalar parameters
(`scale`, two `biases`) that the batch-norm path never uses (not built here:
36 parameters at 12 blocks); without batch norm the code switches to a Fixup
path with those scalars, while `batch_norm=False` here only drops the batch
norms. Its NetworkBlock runs every stage twice per forward pass, so in training
each batch norm's running averages are updated twice per step: PyTorch momentum
0.1 applied twice is Keras momentum 0.9^2 = 0.81 (`batch_norm_momentum`, set
by the _as_released flagfile).

Padding as PyTorch's: a stride-2 3x3 conv is padded one pixel on every side
(layers.pytorch_padded_conv), so it samples the even pixels its 1x1 shortcut samples.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional, Tuple

from keras_initstudy import lazy, seeds, settings
from keras_initstudy.models.mlp import DROPOUT
from keras_initstudy.models.registry import ModelConfig, ModelSpec, Seeds, register
from keras_initstudy.settings import at_least, between, setting

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow
initializers = lazy.module("keras_initstudy.initializers")
layers = lazy.module("keras_initstudy.layers")
symmetric_arithmetic_lib = lazy.module("keras_initstudy.symmetric_arithmetic")

STEM_CHANNELS = 16
STAGE_WIDTHS = (16, 32, 64)
STAGE_STRIDES = (1, 2, 2)
# PyTorch's BatchNorm2d defaults (the authors' code is PyTorch): running averages
# updated with weight 0.1 (Keras momentum 0.9, not Keras's 0.99), epsilon 1e-5.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm_layer(name: str, momentum: float = BN_MOMENTUM) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=momentum, epsilon=BN_EPSILON, name=name)


def blocks_per_stage(num_blocks: int) -> int:
    """The code's n = (depth - 4) / 3 blocks in each of the three stages."""
    if num_blocks < len(STAGE_WIDTHS) or num_blocks % len(STAGE_WIDTHS):
        raise ValueError(f"num_blocks must be a positive multiple of 3 (one stage each), got {num_blocks}")
    return num_blocks // len(STAGE_WIDTHS)


def stage_plan(num_blocks: int, widen_factor: int):
    """(stage, block, in_channels, out_channels, stride) for every block, in order."""
    channels = STEM_CHANNELS
    for stage, (width, stride) in enumerate(zip(STAGE_WIDTHS, STAGE_STRIDES), start=1):
        for block in range(1, blocks_per_stage(num_blocks) + 1):
            out = width * widen_factor
            yield stage, block, channels, out, stride if block == 1 else 1
            channels = out


def dropout_layer(rate: float, name: str, data_seed: int) -> keras.layers.Dropout:
    return keras.layers.Dropout(rate, name=name, seed=seeds.derive(data_seed, name))


def he_fan_out(gain_squared: float, seed: int) -> keras.initializers.Initializer:
    """N(0, gain^2 / fan_out), fan_out = k*k*C_out: the code's `normal_(0, gain * sqrt(1 / k))`."""
    return keras.initializers.VarianceScaling(scale=gain_squared, mode="fan_out",
                                              distribution="untruncated_normal", seed=seed)


def build_constnet(input_shape: Tuple[int, ...], num_classes: int, widen_factor: int = 10,
                   num_blocks: int = 12, batch_norm: bool = True, dropout: float = 0.0,
                   dropout_stem: bool = False, init: str = "const",
                   batch_norm_momentum: float = BN_MOMENTUM, name: Optional[str] = None,
                   init_seed: int = 0, data_seed: Optional[int] = None,
                   symmetric_arithmetic: bool = False) -> keras.Model:
    """ConstNet (`init='const'`) or ConstNet He (`init='he'`); see the module docstring.
    `symmetric_arithmetic`: the 1x1 shortcuts and the output layer multiply through
    symmetric_arithmetic.symmetric_matmul, which rounds every output channel alike."""
    if init not in ("const", "he"):
        raise ValueError(f"init must be 'const' or 'he', got {init!r}")
    const = init == "const"
    data_seed = init_seed if data_seed is None else data_seed

    def conv(channels, size, stride, const_init, gain_squared, layer_name):
        init_ = const_init if const else he_fan_out(gain_squared, seeds.derive(init_seed, layer_name, "kernel"))
        layer = (symmetric_arithmetic_lib.SymmetricPointwiseConv2D if symmetric_arithmetic and size == 1
                 else keras.layers.Conv2D)
        return layers.pytorch_padded_conv(channels, size, stride, layer_name, conv_class=layer, use_bias=False,
                                          kernel_initializer=init_)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv(STEM_CHANNELS, 3, 1, initializers.ChannelAveraging(), 1.0, "stem_conv")(inputs)
    if dropout and dropout_stem:
        x = dropout_layer(dropout, "stem_dropout", data_seed)(x)
    for stage, block, c_in, c_out, stride in stage_plan(num_blocks, widen_factor):
        prefix = f"stage{stage}_block{block}"
        a = batch_norm_layer(f"{prefix}_bn", batch_norm_momentum)(x) if batch_norm else x
        h = keras.layers.ReLU(name=f"{prefix}_relu")(a)
        h = conv(c_out, 3, stride, "zeros", 2.0, f"{prefix}_conv")(h)
        if dropout:
            h = dropout_layer(dropout, f"{prefix}_dropout", data_seed)(h)
        shortcut = x if c_in == c_out and stride == 1 else conv(
            c_out, 1, stride, initializers.ChannelAveraging(), 1.0, f"{prefix}_shortcut")(a)
        x = keras.layers.Add(name=f"{prefix}_add")([shortcut, h])
    x = keras.layers.ReLU(name="final_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    dense = symmetric_arithmetic_lib.SymmetricDense if symmetric_arithmetic else keras.layers.Dense
    outputs = dense(num_classes, activation="softmax", name="output", dtype="float32", kernel_initializer="zeros")(x)
    return keras.Model(inputs, outputs, name=name or ("constnet" if const else "constnet_he"))


def feature_layers(model: keras.Model) -> Tuple[str, ...]:
    """The stem and each block's output (paper 002 App. G's probes)."""
    return tuple(layer.name for layer in model.layers if layer.name == "stem_conv" or layer.name.endswith("_add"))


NUM_BLOCKS = settings.Check(lambda v: v >= 3 and v % 3 == 0, "must be a positive multiple of 3 (blocks are "
                            "spread over three stages; depth = blocks + 4)")


@dataclasses.dataclass(frozen=True)
class WideStagesConfig(ModelConfig):
    """Settings shared by the paper-002 convnets (three stages of widths 16k, 32k, 64k)."""

    widen_factor: int = setting(10, "Widths 16k, 32k, 64k (paper 002 App. A: k = 10).", at_least(1))
    num_blocks: int = setting(12, "Blocks (ConstNet: skippable convs; LeakyNet: block convs), a multiple of 3; "
                              "the authors' depth is num_blocks + 4 (paper 002: 12, depth 16).", NUM_BLOCKS)
    batch_norm: bool = setting(True, "Batch norm (gamma 1, beta 0 at init; paper 002 App. A: on).")
    dropout: float = setting(0.0, "Dropout rate after every hidden Dense layer (convnets: after every block "
                             "conv).", DROPOUT)


@dataclasses.dataclass(frozen=True)
class ConstNetConfig(WideStagesConfig):
    # 1: the authors' widening blocks (issue 11); revision-0 runs built another graph.
    # 2: stride-2 3x3 convs padded (1, 1) as PyTorch pads them (issue 25), not Keras's (0, 1).
    revision: ClassVar[int] = 2
    init: ClassVar[str] = "const"  # build_constnet's init: constant convs (ConstNetHeConfig: "he")
    dropout_stem: bool = setting(False, "Also drop out after the stem conv (paper 002 App. I's all-layers "
                                 "dropout; the authors' --dropl1). Off: Table 1's dropout run.")
    batch_norm_momentum: float = setting(BN_MOMENTUM, "Keras momentum of the batch-norm running averages "
                                         "(0.9: PyTorch's default; 0.81: the authors' code, which updates them "
                                         "twice per step).", between(0.0, 1.0))
    symmetric_arithmetic: bool = setting(False, "Multiply the 1x1 shortcuts and the output layer so that every "
                                         "output channel is rounded alike (symmetric_arithmetic.py): "
                                         "shows that a deterministic run's lost symmetry is the CPU matrix "
                                         "product's rounding. Slower; off: Keras's own layers.")


def build(cfg: ConstNetConfig, info, seeds_: Seeds) -> ModelSpec:
    """ConstNet, or ConstNet He for a ConstNetHeConfig (the config class says which init)."""
    model = build_constnet(info.input_shape, info.num_classes, widen_factor=cfg.widen_factor,
                           num_blocks=cfg.num_blocks, batch_norm=cfg.batch_norm, dropout=cfg.dropout,
                           dropout_stem=cfg.dropout_stem, init=cfg.init, batch_norm_momentum=cfg.batch_norm_momentum,
                           init_seed=seeds_.init, data_seed=seeds_.data,
                           symmetric_arithmetic=cfg.symmetric_arithmetic)
    return ModelSpec.of(model, features=feature_layers(model))


@dataclasses.dataclass(frozen=True)
class ConstNetHeConfig(ConstNetConfig):
    init: ClassVar[str] = "he"  # Table 1's "ConstNet He": the same graph, random He-normal convs


register("constnet", ConstNetConfig)(build)  # paper 002: identical features at init
register("constnet_he", ConstNetHeConfig)(build)
