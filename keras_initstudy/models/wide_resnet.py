"""Wide-ResNet WRN-d-k (Zagoruyko & Komodakis 2016), paper 002 Table 1's "Wide-ResNet He" row.

As the xternalz WideResNet-pytorch code that the paper-002 authors started from
builds it: a 3x3 stem (16 channels), three stages of (d - 4) / 6 pre-activation
blocks of widths 16k, 32k, 64k (stride 1, 2, 2), each
    a = relu(bn1(x));  h = conv3x3_stride(a) -> relu(bn2) [-> dropout] -> conv3x3
    out = x + h  (same width)   or   conv1x1_stride(a) + h  (widening)
then bn -> relu -> global average pooling -> Dense. Every conv is He-normal by
fan_out, N(0, 2 / (k*k*C_out)) (untruncated); batch norms start at gamma 1,
beta 0; the Dense weight has PyTorch's default U(+-1/sqrt(fan_in)) and a zero
bias. WRN-28-10 on CIFAR-10 has 36,479,194 trainable parameters. Stride-2 3x3 convs
are padded one pixel on every side, as PyTorch's padding=1 (layers.pytorch_padded_conv).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional, Tuple

from keras_initstudy import lazy, seeds, settings
from keras_initstudy.models.constnet import (STAGE_STRIDES, STAGE_WIDTHS, STEM_CHANNELS, batch_norm_layer,
                                             dropout_layer, feature_layers, he_fan_out)
from keras_initstudy.models.mlp import DROPOUT
from keras_initstudy.models.registry import ModelConfig, ModelSpec, Seeds, register
from keras_initstudy.settings import at_least, setting

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow
initializers = lazy.module("keras_initstudy.initializers")
layers = lazy.module("keras_initstudy.layers")


def build_wide_resnet(input_shape: Tuple[int, ...], num_classes: int, depth: int = 28, widen_factor: int = 10,
                      dropout: float = 0.0, init_seed: int = 0, data_seed: Optional[int] = None) -> keras.Model:
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"a Wide-ResNet's depth is 6 n + 4 with n >= 1, got {depth}")
    data_seed = init_seed if data_seed is None else data_seed

    def conv(channels, size, stride, layer_name):
        return layers.pytorch_padded_conv(channels, size, stride, layer_name, use_bias=False,
                                          kernel_initializer=he_fan_out(2.0, seeds.derive(init_seed, layer_name,
                                                                                           "kernel")))

    def bn_relu(x, prefix):
        return keras.layers.ReLU(name=f"{prefix}_relu")(batch_norm_layer(f"{prefix}_bn")(x))

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = conv(STEM_CHANNELS, 3, 1, "stem_conv")(inputs)
    channels = STEM_CHANNELS
    for stage, (width, stride) in enumerate(zip(STAGE_WIDTHS, STAGE_STRIDES), start=1):
        for block in range(1, (depth - 4) // 6 + 1):
            prefix, out, step = f"stage{stage}_block{block}", width * widen_factor, stride if block == 1 else 1
            a = bn_relu(x, f"{prefix}_1")
            h = conv(out, 3, step, f"{prefix}_conv1")(a)
            h = bn_relu(h, f"{prefix}_2")
            if dropout:
                h = dropout_layer(dropout, f"{prefix}_dropout", data_seed)(h)
            h = conv(out, 3, 1, f"{prefix}_conv2")(h)
            shortcut = x if channels == out and step == 1 else conv(out, 1, step, f"{prefix}_shortcut")(a)
            x = keras.layers.Add(name=f"{prefix}_add")([shortcut, h])
            channels = out
    x = bn_relu(x, "final")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="output", dtype="float32",
        kernel_initializer=initializers.TorchDefault(seed=seeds.derive(init_seed, "output", "kernel")))(x)
    return keras.Model(inputs, outputs, name=f"wrn_{depth}_{widen_factor}")


WRN_DEPTH = settings.Check(lambda v: v >= 10 and (v - 4) % 6 == 0, "must be 6 n + 4 with n >= 1 (28: WRN-28)")


@dataclasses.dataclass(frozen=True)
class WideResNetConfig(ModelConfig):
    revision: ClassVar[int] = 1  # 1: stride-2 3x3 convs padded (1, 1) as PyTorch's (issue 25); 0: Keras's (0, 1)
    widen_factor: int = setting(10, "Widths 16k, 32k, 64k (paper 002 App. A: k = 10).", at_least(1))
    wrn_depth: int = setting(28, "Depth d of WRN-d-k: (d - 4) / 6 two-conv blocks per stage (WRN-28-10).",
                             WRN_DEPTH)
    dropout: float = setting(0.0, "Dropout rate after every hidden Dense layer (convnets: after every block "
                             "conv).", DROPOUT)


@register("wide_resnet", WideResNetConfig)
def build(cfg: WideResNetConfig, info, seeds_: Seeds) -> ModelSpec:
    model = build_wide_resnet(info.input_shape, info.num_classes, depth=cfg.wrn_depth,
                              widen_factor=cfg.widen_factor, dropout=cfg.dropout,
                              init_seed=seeds_.init, data_seed=seeds_.data)
    return ModelSpec.of(model, features=feature_layers(model))
