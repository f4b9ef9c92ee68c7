"""LeakyNet (paper 002 §5.1-5.2, Table 2, App. G-H), built as the authors' remodel.py builds it.

    image -> stem conv3x3 (16 channels)
          -> 3 stages of num_blocks / 3 blocks (widths 16k, 32k, 64k; the first block of
             a stage has stride 1, 2, 2 and widens). A block, without a skip:
                 x + b (one trainable scalar, 0 at init) -> conv3x3 -> leaky relu
                 [-> dropout] [-> bn, odd blocks only]
          -> leaky relu -> global average pooling -> Dense (zero)

13 convs at 12 blocks. Each conv is a delta kernel times a channel matrix picked
by one letter of the pattern (Table 2's syntax: `1_iiii_11ii_iiii`, the stem's
letter first, underscores ignored; one letter alone sets every conv):
    'i'  identity; widening convs copy input channel j mod C_in to output j
    '1'  averaging, 1/C_in everywhere: identical outputs; shrinks a symmetry-
         breaking perturbation by about sqrt(C) (App. G)
    'h'  random, N(0, var / fan_in): var = sqrt(2) (1 + a) as the code draws it
         (`h_variance=released`), or 2 / (1 + a^2), He for the leaky ReLU as §5.2
         describes it (`h_variance=leaky_he`)
Signs (the code's phase): block j (0-based, counted over the network) has
factor +1 when j is even and -1/a when j is odd; the stem +1. For the Leaky
ReLU f(x) = max(x, a x), f(-(1/a) f(x)) = -x, so each pair of blocks is -identity
on its input without batch norm (App. H). Batch norm follows the odd blocks only,
after each such pair (remodel.py applies its BatchNorm2d when phase < 0), so a pair
stays -identity and the batch norm recentres and rescales its output per channel,
which keeps identical features identical. The even blocks' batch norms are built
and counted, as the code's are, and pass their input through
(layers.IdleBatchNormalization). Stride-2 convs are padded (1, 1) as PyTorch's.
With a stem of '1', every feature of every layer is identical at init (the
paper's "averaging the incoming channels"; Table 2's '1_...' rows).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import ClassVar, Optional, Tuple

from keras_initstudy import lazy, seeds, settings
from keras_initstudy.models.constnet import BN_EPSILON, BN_MOMENTUM, STEM_CHANNELS, WideStagesConfig, \
    batch_norm_layer, dropout_layer, stage_plan
from keras_initstudy.models.registry import ModelSpec, Seeds, register
from keras_initstudy.settings import setting

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow
initializers = lazy.module("keras_initstudy.initializers")
layers = lazy.module("keras_initstudy.layers")

LETTERS = "i1h"
H_VARIANCES = ("released", "leaky_he")


def expand_pattern(pattern: str, num_blocks: int) -> str:
    """One letter per conv (stem first): Table 2's `1_iiii_11ii_iiii` -> '1iiii11iiiiii';
    a single letter repeats for all 1 + num_blocks convs."""
    letters = pattern.replace("_", "")
    if len(letters) == 1:
        letters *= 1 + num_blocks
    if len(letters) != 1 + num_blocks or set(letters) - set(LETTERS):
        raise ValueError(f"channel pattern {pattern!r} must be one letter or 1 + {num_blocks} letters "
                         f"(stem first) from i, 1, h; underscores are ignored")
    return letters


def random_variance(alpha: float, h_variance: str) -> float:
    """The variance times fan_in of an 'h' conv (see the module docstring)."""
    if h_variance == "released":
        return math.sqrt(2.0) * (1.0 + alpha)  # remodel.py: std = sqrt(gain / fan_in), gain = sqrt(2)(1 + a)
    if h_variance == "leaky_he":
        return 2.0 / (1.0 + alpha ** 2)
    raise ValueError(f"h_variance must be one of {H_VARIANCES}, got {h_variance!r}")


def sign_factor(block: int, alpha: float) -> float:
    """+1 for even blocks, -1/a for odd ones (0-based over the whole network)."""
    return 1.0 if block % 2 == 0 else -1.0 / alpha


def conv_init(letter: str, factor: float, alpha: float, h_variance: str, seed: int):
    if letter == "h":
        return keras.initializers.VarianceScaling(scale=random_variance(alpha, h_variance), mode="fan_in",
                                                  distribution="untruncated_normal", seed=seed)
    return initializers.ChannelMatrix(letter, factor)


def build_leakynet(input_shape: Tuple[int, ...], num_classes: int, widen_factor: int = 10,
                   num_blocks: int = 12, batch_norm: bool = True, dropout: float = 0.0,
                   leaky_alpha: float = 0.01, channel_init: str = "1_iiii_iiii_iiii",
                   h_variance: str = "released", name: str = "leakynet", init_seed: int = 0,
                   data_seed: Optional[int] = None) -> keras.Model:
    letters = expand_pattern(channel_init, num_blocks)
    if batch_norm:  # the idle batch norms have no gradient by design; any other missing one still warns
        warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \[('[^']*_bn_idle/"
                                r"(gamma|beta)'(, )?)+\]")
    data_seed = init_seed if data_seed is None else data_seed

    def conv(channels, stride, letter, factor, layer_name):
        return layers.pytorch_padded_conv(
            channels, 3, stride, layer_name, use_bias=False,
            kernel_initializer=conv_init(letter, factor, leaky_alpha, h_variance,
                                         seeds.derive(init_seed, layer_name, "kernel")))

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv(STEM_CHANNELS, 1, letters[0], 1.0, "stem_conv")(inputs)
    for j, (stage, block, _, c_out, stride) in enumerate(stage_plan(num_blocks, widen_factor)):
        prefix = f"stage{stage}_block{block}"
        x = layers.ScalarBias(name=f"{prefix}_input_bias")(x)
        x = conv(c_out, stride, letters[1 + j], sign_factor(j, leaky_alpha), f"{prefix}_conv")(x)
        x = keras.layers.LeakyReLU(negative_slope=leaky_alpha, name=f"{prefix}_leaky")(x)
        if dropout:
            x = dropout_layer(dropout, f"{prefix}_dropout", data_seed)(x)
        if batch_norm and sign_factor(j, leaky_alpha) < 0:  # remodel.py: `if self.phase < 0: out = self.bn(out)`
            x = batch_norm_layer(f"{prefix}_bn")(x)
        elif batch_norm:  # built, counted, never applied (the code's BatchNorm2d in every block)
            x = layers.IdleBatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{prefix}_bn_idle")(x)
    x = keras.layers.LeakyReLU(negative_slope=leaky_alpha, name="final_leaky")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", kernel_initializer="zeros",
                                 name="output", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def feature_layers(model: keras.Model) -> Tuple[str, ...]:
    """The stem and each block's output: its batch norm, applied or idle, or, without batch
    norms, its activation."""
    names = {layer.name for layer in model.layers}
    blocks = [layer.name[:-len("_conv")] for layer in model.layers
              if layer.name.startswith("stage") and layer.name.endswith("_conv")]
    return ("stem_conv",) + tuple(next(f"{p}{suffix}" for suffix in ("_bn", "_bn_idle", "_leaky")
                                       if f"{p}{suffix}" in names) for p in blocks)


CHANNEL_PATTERN = settings.Check(lambda v: bool(v.replace("_", "")) and set(v.replace("_", "")) <= set(LETTERS),
                                 "must be letters from i, 1, h (underscores allowed), e.g. 1_iiii_11ii_iiii")


@dataclasses.dataclass(frozen=True)
class LeakyNetConfig(WideStagesConfig):
    # 1: the authors' 13-conv network and Table 2 patterns (issue 11). 2: batch norm on odd
    # blocks only and PyTorch's padding of stride-2 convs, as remodel.py (issue 25).
    revision: ClassVar[int] = 2
    leaky_alpha: float = setting(0.01, "Leaky ReLU slope (paper 002 §5.1: 0.01).", settings.between(1e-6, 1.0))
    channel_init: str = setting("1_iiii_iiii_iiii", "Channel matrix of each conv, stem first: i (identity), "
                                "1 (averaging), h (random); Table 2's syntax, e.g. 1_iiii_11ii_iiii, or one "
                                "letter for every conv.", CHANNEL_PATTERN)
    h_variance: str = setting("released", "Variance x fan_in of 'h' convs: released (sqrt(2)(1 + a), the "
                              "authors' remodel.py) or leaky_he (2 / (1 + a^2), paper 002 §5.2's text).",
                              choices=H_VARIANCES)

    def validate(self):
        try:
            expand_pattern(self.channel_init, self.num_blocks)
        except ValueError as e:
            raise settings.ConfigError(str(e)) from None


@register("leakynet", LeakyNetConfig)
def build(cfg: LeakyNetConfig, info, seeds_: Seeds) -> ModelSpec:
    model = build_leakynet(info.input_shape, info.num_classes, widen_factor=cfg.widen_factor,
                           num_blocks=cfg.num_blocks, batch_norm=cfg.batch_norm, dropout=cfg.dropout,
                           leaky_alpha=cfg.leaky_alpha, channel_init=cfg.channel_init,
                           h_variance=cfg.h_variance, init_seed=seeds_.init, data_seed=seeds_.data)
    return ModelSpec.of(model, features=feature_layers(model))
