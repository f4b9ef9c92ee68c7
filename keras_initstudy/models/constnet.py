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
from typing import Optional, Tuple

import keras

from keras_initstudy import initializers

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


def _conv(channels, size, stride, init, name):
    return keras.layers.Conv2D(channels, size, strides=stride, padding="same", use_bias=False,
                               kernel_initializer=init, name=name)


def _maybe_dropout(x, rate, name):
    return keras.layers.Dropout(rate, name=name)(x) if rate else x


def _norm_relu(x, batch_norm, name):
    if batch_norm:
        x = batch_norm_layer(f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_constnet(input_shape: Tuple[int, ...], num_classes: int, widen_factor: int = 10,
                   num_blocks: int = 12, batch_norm: bool = True, dropout: float = 0.0,
                   init: str = "const", name: Optional[str] = None) -> keras.Model:
    if init not in ("const", "he"):
        raise ValueError(f"init must be 'const' or 'he', got {init!r}")
    const = init == "const"
    stem_init = initializers.ChannelAveraging() if const else "he_normal"
    widen_init = initializers.ChannelAveraging() if const else "he_normal"
    block_init = "zeros" if const else "he_normal"
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = _conv(STEM_CHANNELS, 3, 1, stem_init, "stem_conv")(inputs)
    x = _maybe_dropout(x, dropout, "stem_dropout")
    for stage, (width, stride, count) in enumerate(
            zip(STAGE_WIDTHS, STAGE_STRIDES, blocks_per_stage(num_blocks)), start=1):
        x = _conv(width * widen_factor, 1, stride, widen_init, f"stage{stage}_widen")(x)
        for b in range(1, count + 1):
            prefix = f"stage{stage}_block{b}"
            h = _norm_relu(x, batch_norm, prefix)
            h = _conv(width * widen_factor, 3, 1, block_init, f"{prefix}_conv")(h)
            h = _maybe_dropout(h, dropout, f"{prefix}_dropout")
            x = keras.layers.Add(name=f"{prefix}_add")([x, h])
    x = _norm_relu(x, batch_norm, "final")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="output", dtype="float32",
                                 kernel_initializer="zeros" if const else "glorot_uniform")(x)
    return keras.Model(inputs, outputs, name=name or ("constnet" if const else "wrn"))
