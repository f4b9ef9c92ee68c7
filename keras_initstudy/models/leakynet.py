"""LeakyNet (paper 002 §5.1, App. G-H): identity at init through sign-swapping Leaky ReLU pairs.

For the Leaky ReLU f(x) = max(x, a x), f(-(1/a) f(-x)) = x for every x, so a
pair of layers whose kernels are delta x (-M1) and delta x (-(1/a) M2), with
M2 M1 acting as the identity, computes the identity at init: each neuron swaps
sign after the first activation and swaps back after the second. The channel
matrices M come from a pattern, one letter per block conv:
    'i'  identity: propagates symmetry-breaking perturbations untouched
    '1'  averaging (1/C everywhere): identity on symmetric features, but shrinks
         perturbations by about sqrt(C) (App. G)
    'h'  He-normal (gain for the Leaky ReLU), not factorised: the random baseline
The stem averages the input channels and widening 1x1 convs copy each feature,
so all features are identical at init (unless the whole pattern is 'h', which
gives the He baseline throughout). Batch norm (optional) follows each pair;
the final Dense is zero; dropout, when asked for, follows every conv.
"""
import dataclasses
from typing import Optional, Tuple

import keras

from keras_initstudy import initializers, seeds, settings
from keras_initstudy.models.constnet import (STAGE_STRIDES, STAGE_WIDTHS, STEM_CHANNELS, ConstNetConfig,
                                             batch_norm_layer, blocks_per_stage, feature_layers)
from keras_initstudy.models.registry import ModelSpec, Seeds, register
from keras_initstudy.settings import setting


def expand_pattern(pattern: str, num_convs: int) -> str:
    """One letter per block conv: a single letter repeats; otherwise the length must match."""
    if len(pattern) == 1:
        return pattern * num_convs
    if len(pattern) != num_convs or set(pattern) - set("i1h"):
        raise ValueError(f"channel pattern {pattern!r} must be 1 or {num_convs} letters from i, 1, h")
    return pattern


def he_for_leaky(alpha: float, seed: Optional[int] = None) -> keras.initializers.Initializer:
    """He-normal with the Leaky ReLU gain 2 / (1 + a^2)."""
    return keras.initializers.VarianceScaling(scale=2.0 / (1.0 + alpha ** 2), mode="fan_in",
                                              distribution="untruncated_normal", seed=seed)


def block_conv_init(letter: str, scale: float, alpha: float, seed: Optional[int] = None):
    if letter == "h":
        return he_for_leaky(alpha, seed)
    return initializers.ChannelMatrix("i" if letter == "i" else "1", scale)


def build_leakynet(input_shape: Tuple[int, ...], num_classes: int, widen_factor: int = 10,
                   num_blocks: int = 12, batch_norm: bool = True, dropout: float = 0.0,
                   leaky_alpha: float = 0.01, channel_init: str = "i",
                   name: str = "leakynet", init_seed: int = 0, data_seed: Optional[int] = None) -> keras.Model:
    """`num_blocks` counts block convs (two per identity pair), so it must be even."""
    if num_blocks % 2:
        raise ValueError(f"LeakyNet needs an even number of block convs, got {num_blocks}")
    pattern = expand_pattern(channel_init, num_blocks)
    all_he = set(pattern) == {"h"}
    letters = iter(pattern)
    data_seed = init_seed if data_seed is None else data_seed

    def seed(layer_name):
        return seeds.derive(init_seed, layer_name, "kernel")

    def conv(x, channels, size, stride, init, layer_name):
        x = keras.layers.Conv2D(channels, size, strides=stride, padding="same", use_bias=False,
                                kernel_initializer=init, name=layer_name)(x)
        if not dropout:
            return x
        name = f"{layer_name}_dropout"
        return keras.layers.Dropout(dropout, name=name, seed=seeds.derive(data_seed, name))(x)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv(inputs, STEM_CHANNELS, 3, 1,
             he_for_leaky(leaky_alpha, seed("stem_conv")) if all_he else initializers.ChannelAveraging(),
             "stem_conv")
    for stage, (width, stride, pairs) in enumerate(
            zip(STAGE_WIDTHS, STAGE_STRIDES, blocks_per_stage(num_blocks // 2)), start=1):
        channels = width * widen_factor
        widen_name = f"stage{stage}_widen"
        widen = he_for_leaky(leaky_alpha, seed(widen_name)) if all_he else initializers.ChannelMatrix("replicate")
        x = conv(x, channels, 1, stride, widen, widen_name)
        for p in range(1, pairs + 1):
            prefix = f"stage{stage}_pair{p}"
            for half, scale in (("a", -1.0), ("b", -1.0 / leaky_alpha)):
                layer_name = f"{prefix}_{half}"
                x = conv(x, channels, 3, 1, block_conv_init(next(letters), scale, leaky_alpha, seed(layer_name)),
                         layer_name)
                x = keras.layers.LeakyReLU(negative_slope=leaky_alpha, name=f"{prefix}_{half}_leaky")(x)
            if batch_norm:
                x = batch_norm_layer(f"{prefix}_bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", kernel_initializer="zeros",
                                 name="output", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


CHANNEL_PATTERN = settings.Check(lambda v: bool(v) and set(v) <= set("i1h"), "must be letters from i, 1, h")


@dataclasses.dataclass(frozen=True)
class LeakyNetConfig(ConstNetConfig):
    leaky_alpha: float = setting(0.01, "Leaky ReLU slope (paper 002 §5.1: 0.01).", settings.between(1e-6, 1.0))
    channel_init: str = setting("i", "Channel matrix per block conv: i (identity), 1 (averaging), h (He); one "
                                "letter for all or one per block conv, e.g. iiiiii111111 (paper 002 Table 2).",
                                CHANNEL_PATTERN)

    def validate(self):
        if self.num_blocks % 2 or len(self.channel_init) not in (1, self.num_blocks):
            raise settings.ConfigError(
                f"leakynet needs an even num_blocks (got {self.num_blocks}) and a channel_init of 1 or "
                f"num_blocks letters (got {len(self.channel_init)})")


@register("leakynet", LeakyNetConfig)
def build(cfg: LeakyNetConfig, info, seeds_: Seeds) -> ModelSpec:
    model = build_leakynet(info.input_shape, info.num_classes, widen_factor=cfg.widen_factor,
                           num_blocks=cfg.num_blocks, batch_norm=cfg.batch_norm, dropout=cfg.dropout,
                           leaky_alpha=cfg.leaky_alpha, channel_init=cfg.channel_init,
                           init_seed=seeds_.init, data_seed=seeds_.data)
    return ModelSpec.of(model, features=feature_layers(model))
