"""CIFAR ResNet-N (He et al. 2016 §4.2) as open_lth's `cifar_resnet_N[_W]`, for paper 004
(Frankle, Schwab, Morcos) on which its rewinding experiments run; its config and builder.

    image -> conv3x3 (W) -> BN -> ReLU
          -> 3 stages of D = (N - 2) / 6 blocks, W, 2W, 4W filters (strides 1, 2, 2):
             block: conv3x3 -> BN -> ReLU -> conv3x3 -> BN, + shortcut, -> ReLU;
             the shortcut is conv1x1 (stride 2) -> BN where the shape changes, else identity
          -> global average pooling -> Dense (softmax)

ResNet-20 (N = 20, W = 16): 272,474 trainable parameters, as open_lth's test pins.
Initialisation as open_lth's defaults: kernels PyTorch's kaiming_normal_ (N(0, 2/fan_in),
not truncated); batch norm gamma ~ U[0, 1) and beta 0 ('uniform'; 'fixed' gives 1 and 0);
the Dense bias PyTorch's default U(+-1/sqrt(fan_in)). Batch norm uses PyTorch's momentum
and epsilon. Stride-2 3x3 convs are padded one pixel on every side as PyTorch's
padding=1 (layers.pytorch_padded_conv; Keras's 'same' would pad (0, 1) and sample
the odd pixels while the 1x1 shortcut samples the even ones).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from keras_initstudy import lazy, seeds, settings
from keras_initstudy.models.constnet import BN_EPSILON, BN_MOMENTUM
from keras_initstudy.models.mlp import INITIALIZER
from keras_initstudy.models.registry import ModelConfig, ModelSpec, Seeds, register
from keras_initstudy.settings import at_least, setting

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow
initializers = lazy.module("keras_initstudy.initializers")
layers = lazy.module("keras_initstudy.layers")

KAIMING_NORMAL = "kaiming_normal(gain=1.4142135623730951)"  # PyTorch's kaiming_normal_ default


@dataclasses.dataclass(frozen=True)
class ResNetConfig(ModelConfig):
    revision: ClassVar[int] = 1  # 1: stride-2 3x3 convs padded (1, 1) as PyTorch's (issue 25); 0: Keras's (0, 1)
    resnet_depth: int = setting(20, "Layers N of a CIFAR ResNet-N: 2 + 6 x blocks per stage (paper 004: 20).",
                                settings.Check(lambda n: n > 2 and (n - 2) % 6 == 0, "must be 6 D + 2 with D >= 1"))
    resnet_width: int = setting(16, "Filters W of the first stage (2W, 4W after; open_lth's cifar_resnet_N_W).",
                                at_least(1))
    kernel_initializer: str = setting(
        KAIMING_NORMAL, "Initializer of the conv and Dense kernels (open_lth: PyTorch's kaiming_normal_, "
        "kaiming_normal(gain=1.4142135623730951)).", INITIALIZER)
    bn_init: str = setting("uniform", "Batch-norm gamma: uniform U[0, 1) (open_lth's default) or fixed 1; "
                           "beta 0 in both.", choices=("uniform", "fixed"))


def build_resnet(input_shape, num_classes: int, depth: int = 20, width: int = 16,
                 kernel_initializer: str = KAIMING_NORMAL, bn_init: str = "uniform", init_seed: int = 0,
                 name: str = "resnet") -> keras.Model:
    if depth <= 2 or (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has 6 D + 2 layers, got {depth}")
    blocks = (depth - 2) // 6

    def conv(filters, size, stride, layer_name):
        return layers.pytorch_padded_conv(
            filters, size, stride, layer_name, use_bias=False,
            kernel_initializer=initializers.from_spec(kernel_initializer,
                                                      seeds.derive(init_seed, layer_name, "kernel")))

    def norm(layer_name):
        gamma = (keras.initializers.RandomUniform(0.0, 1.0, seed=seeds.derive(init_seed, layer_name, "gamma"))
                 if bn_init == "uniform" else "ones")
        return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, gamma_initializer=gamma,
                                               name=layer_name)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.ReLU(name="stem_relu")(norm("stem_bn")(conv(width, 3, 1, "stem_conv")(inputs)))
    filters_in = width
    for stage, filters in enumerate((width, 2 * width, 4 * width), start=1):
        for b in range(1, blocks + 1):
            prefix = f"stage{stage}_block{b}"
            stride = 2 if stage > 1 and b == 1 else 1
            h = keras.layers.ReLU(name=f"{prefix}_relu1")(norm(f"{prefix}_bn1")(conv(filters, 3, stride,
                                                                                      f"{prefix}_conv1")(x)))
            h = norm(f"{prefix}_bn2")(conv(filters, 3, 1, f"{prefix}_conv2")(h))
            shortcut = x
            if stride > 1 or filters_in != filters:
                shortcut = norm(f"{prefix}_shortcut_bn")(conv(filters, 1, 2, f"{prefix}_shortcut")(x))
            x = keras.layers.ReLU(name=f"{prefix}_relu")(keras.layers.Add(name=f"{prefix}_add")([h, shortcut]))
            filters_in = filters
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="output", dtype="float32",
        kernel_initializer=initializers.from_spec(kernel_initializer, seeds.derive(init_seed, "output", "kernel")),
        bias_initializer=initializers.from_spec("torch_default", seeds.derive(init_seed, "output", "bias"),
                                                fan_in=4 * width))(x)
    return keras.Model(inputs, outputs, name=name)


@register("resnet", ResNetConfig)
def build(cfg: ResNetConfig, info, seeds_: Seeds) -> ModelSpec:
    model = build_resnet(info.input_shape, info.num_classes, depth=cfg.resnet_depth, width=cfg.resnet_width,
                         kernel_initializer=cfg.kernel_initializer, bn_init=cfg.bn_init, init_seed=seeds_.init,
                         name=f"resnet{cfg.resnet_depth}")
    return ModelSpec.of(model, features=tuple(layer.name for layer in model.layers if layer.name.endswith("_relu")))


@dataclasses.dataclass(frozen=True)
class ResNet20Config(ResNetConfig):
    """`--model=resnet20`: paper 004's network by its own name (resnet with depth 20)."""

    def validate(self) -> None:
        if self.resnet_depth != 20:
            raise settings.ConfigError(f"resnet20 has depth 20, not {self.resnet_depth}: use --model=resnet "
                                       f"--resnet_depth={self.resnet_depth}")


register("resnet20", ResNet20Config)(build)
