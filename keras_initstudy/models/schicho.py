"""Paper 001's models (Schicho, "Learning Dynamics: Zero Initialization of Neural Networks"),
with the architectures of the authors' released code (c-schicho/ZeroInitializationSymmetry),
ELU activations (§2.2) and one initialisation scheme for every Dense and Conv layer
(zero_init.py; --init_scheme, --bias_scale):

    logistic           the report's baseline: one Dense layer on the flattened input
    schicho_fnn        Dense layers of --fnn_hidden units (MNIST: 500; CIFAR-10: 512,256,128)
    schicho_cnn_mnist  conv 16 and conv 32 (5x5, same padding), then Dense to the classes; no
                       pooling, as the released code (mnist_cnn_model.py in every commit) and the
                       report, which names none (--cnn_pooling: 2x2 max-pooling after each conv)
    schicho_cnn_cifar  three stages conv-ELU-conv-ELU-maxpool-batchnorm, 3x3 convs of 32, 64 / 128,
                       128 / 256, 256 channels, then Dense 1024-512-classes (the code's two hidden
                       Dense layers; the report counts four)
    resnet50           bottleneck ResNet-50 for 32x32 inputs (kuangliu/pytorch-cifar, which the code
                       adapts): biases on every conv, ELU for ReLU, the scheme on every kernel and bias

Batch norm uses PyTorch's defaults (momentum 0.1, i.e. Keras's 0.9; epsilon 1e-5); with
--batch_norm_at_test=batch it normalises test batches by their own statistics, as the
released code (which never calls eval()) does. Stride-2 3x3 convs are padded (1, 1), as
PyTorch's padding=1 (layers.pytorch_padded_conv).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Optional, Tuple

from keras_initstudy import lazy, settings
from keras_initstudy.models.constnet import BN_EPSILON, BN_MOMENTUM
from keras_initstudy.models.mlp import ACTIVATION
from keras_initstudy.models.registry import ModelConfig, ModelSpec, Seeds, register
from keras_initstudy.settings import positive, setting

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow
zero_init = lazy.module("keras_initstudy.zero_init")
layers_lib = lazy.module("keras_initstudy.layers")


def _hidden_sizes(text: str) -> Tuple[int, ...]:
    sizes = tuple(int(part) for part in text.split(",") if part.strip())
    if any(s < 1 for s in sizes):
        raise ValueError(text)
    return sizes


@dataclasses.dataclass(frozen=True)
class SchichoConfig(ModelConfig):
    activation: str = setting("elu", "Hidden-layer activation (paper 001 §2.2: elu).", ACTIVATION)
    init_scheme: str = setting("torch_default", "Initialisation of every Dense and Conv layer (paper 001 §2.1): "
                               "torch_default, zeros_normal_bias, zeros_uniform_bias or zeros.",
                               choices=zero_init.SCHEMES)
    bias_scale: float = setting(1.0, "Factor on the random biases of zeros_*_bias (paper 001 §3.2: 0.01, 1, 100).",
                                positive())


@dataclasses.dataclass(frozen=True)
class LogisticConfig(SchichoConfig):
    stackable: ClassVar[bool] = True


@dataclasses.dataclass(frozen=True)
class FNNConfig(SchichoConfig):
    stackable: ClassVar[bool] = True
    fnn_hidden: str = setting("500", "Hidden Dense sizes (paper 001 code: MNIST 500; CIFAR-10 512,256,128).",
                              settings.parses(_hidden_sizes, "must be comma-separated positive integers"))


@dataclasses.dataclass(frozen=True)
class MnistCNNConfig(SchichoConfig):
    # 1: no pooling by default (issue 25): without it a run named as before could mean either graph
    revision: ClassVar[int] = 1
    cnn_pooling: bool = setting(False, "2x2 max-pooling after each conv; off (default): no pooling, as the "
                                "released code's CNN, whose Dense layer reads all 32 x 28 x 28 features; "
                                "no source has pooling.")


@dataclasses.dataclass(frozen=True)
class BatchNormedConfig(SchichoConfig):
    batch_norm_at_test: str = setting("running", "Statistics batch norm uses on test and validation data: "
                                      "running (averages over training, PyTorch's eval()) or batch (each "
                                      "batch's own: the released code never calls eval(); evaluation then "
                                      "uses the training batch size).", choices=("running", "batch"))

    def eval_batch_size(self, train_batch_size: int) -> Optional[int]:
        """Batch size of evaluations: the training one where test batches are normalised by their own
        statistics (the code's test loader shares the train loader's size); None: any size."""
        return train_batch_size if self.batch_norm_at_test == "batch" else None


@dataclasses.dataclass(frozen=True)
class CifarCNNConfig(BatchNormedConfig):
    pass


@dataclasses.dataclass(frozen=True)
class ResNet50Config(BatchNormedConfig):
    revision: ClassVar[int] = 1  # 1: stride-2 3x3 convs padded (1, 1) as PyTorch's (issue 25)
    resnet50_scope: str = setting("all", "Layers that get --init_scheme: all (the report), or stem_and_output "
                                  "(the released code's loop reaches only the first conv and the output "
                                  "layer; the rest keep torch_default).", choices=("all", "stem_and_output"))
    resnet50_block_bn1: bool = setting(True, "Batch norm after each block's first 1x1 conv (off: the "
                                       "released code's forward pass skips it).")


class Layers:
    """Dense and Conv2D layers initialised by one scheme, each with its own seed."""

    def __init__(self, cfg: SchichoConfig, init_seed: int):
        self.cfg, self.init_seed = cfg, init_seed

    def initializers(self, name: str, fan_in: int, scheme: str = None):
        return zero_init.layer_initializers(scheme or self.cfg.init_scheme, self.cfg.bias_scale, self.init_seed,
                                            name, fan_in)

    def dense(self, x, units: int, name: str, activation=None, scheme: str = None):
        kernel, bias = self.initializers(name, int(x.shape[-1]), scheme)
        return keras.layers.Dense(units, activation=activation, kernel_initializer=kernel, bias_initializer=bias,
                                  name=name, dtype="float32" if activation == "softmax" else None)(x)

    def conv(self, x, filters: int, size: int, name: str, stride: int = 1, scheme: str = None):
        kernel, bias = self.initializers(name, int(x.shape[-1]) * size * size, scheme)
        return layers_lib.pytorch_padded_conv(filters, size, stride, name, kernel_initializer=kernel,
                                              bias_initializer=bias)(x)

    def batch_norm(self, x, name: str):
        """PyTorch's BatchNorm2d defaults; normalising test batches by their own statistics where
        batch_norm_at_test is 'batch'."""
        batch_stats = getattr(self.cfg, "batch_norm_at_test", "running") == "batch"
        layer = layers_lib.BatchStatisticsNormalization if batch_stats else keras.layers.BatchNormalization
        return layer(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)

    def act(self, x, name: str):
        return keras.layers.Activation(self.cfg.activation, name=name)(x)

    def output(self, x, num_classes: int, scheme: str = None):
        return self.dense(x, num_classes, "output", activation="softmax", scheme=scheme)


@register("logistic", LogisticConfig)
def build_logistic(cfg: LogisticConfig, info, seeds_: Seeds) -> ModelSpec:
    inputs = keras.Input(info.input_shape)
    layers = Layers(cfg, seeds_.init)
    outputs = layers.output(keras.layers.Flatten()(inputs), info.num_classes)
    return ModelSpec.of(keras.Model(inputs, outputs, name="logistic"))


@register("schicho_fnn", FNNConfig)
def build_fnn(cfg: FNNConfig, info, seeds_: Seeds) -> ModelSpec:
    inputs = keras.Input(info.input_shape)
    layers = Layers(cfg, seeds_.init)
    x = keras.layers.Flatten()(inputs)
    for i, units in enumerate(_hidden_sizes(cfg.fnn_hidden), start=1):
        x = layers.act(layers.dense(x, units, f"hidden_{i}"), f"hidden_{i}_act")
    return ModelSpec.of(keras.Model(inputs, layers.output(x, info.num_classes), name="schicho_fnn"),
                        features=tuple(f"hidden_{i}_act" for i in range(1, len(_hidden_sizes(cfg.fnn_hidden)) + 1)))


@register("schicho_cnn_mnist", MnistCNNConfig)
def build_cnn_mnist(cfg: MnistCNNConfig, info, seeds_: Seeds) -> ModelSpec:
    inputs = keras.Input(info.input_shape)
    layers = Layers(cfg, seeds_.init)
    x = inputs
    for i, filters in enumerate((16, 32), start=1):
        x = layers.act(layers.conv(x, filters, 5, f"conv_{i}"), f"conv_{i}_act")
        if cfg.cnn_pooling:
            x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    outputs = layers.output(keras.layers.Flatten()(x), info.num_classes)
    return ModelSpec.of(keras.Model(inputs, outputs, name="schicho_cnn_mnist"))


@register("schicho_cnn_cifar", CifarCNNConfig)
def build_cnn_cifar(cfg: CifarCNNConfig, info, seeds_: Seeds) -> ModelSpec:
    inputs = keras.Input(info.input_shape)
    layers = Layers(cfg, seeds_.init)
    x = inputs
    for stage, (a, b) in enumerate(((32, 64), (128, 128), (256, 256)), start=1):
        x = layers.act(layers.conv(x, a, 3, f"stage{stage}_conv1"), f"stage{stage}_act1")
        x = layers.act(layers.conv(x, b, 3, f"stage{stage}_conv2"), f"stage{stage}_act2")
        x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
        x = layers.batch_norm(x, f"stage{stage}_bn")
    x = keras.layers.Flatten()(x)
    for i, units in enumerate((1024, 512), start=1):
        x = layers.act(layers.dense(x, units, f"hidden_{i}"), f"hidden_{i}_act")
    return ModelSpec.of(keras.Model(inputs, layers.output(x, info.num_classes), name="schicho_cnn_cifar"))


RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (planes, blocks, first stride)
EXPANSION = 4


@register("resnet50", ResNet50Config)
def build_resnet50(cfg: ResNet50Config, info, seeds_: Seeds) -> ModelSpec:
    inputs = keras.Input(info.input_shape)
    layers = Layers(cfg, seeds_.init)
    inner = None if cfg.resnet50_scope == "all" else "torch_default"  # the scheme of the layers inside blocks
    x = layers.act(layers.batch_norm(layers.conv(inputs, 64, 3, "stem_conv"), "stem_bn"), "stem_act")
    for s, (planes, blocks, first_stride) in enumerate(RESNET50_STAGES, start=1):
        for b in range(1, blocks + 1):
            name, stride = f"stage{s}_block{b}", first_stride if b == 1 else 1
            y = layers.conv(x, planes, 1, f"{name}_conv1", scheme=inner)
            if cfg.resnet50_block_bn1:
                y = layers.batch_norm(y, f"{name}_bn1")
            y = layers.act(y, f"{name}_act1")
            y = layers.act(layers.batch_norm(layers.conv(y, planes, 3, f"{name}_conv2", stride, scheme=inner),
                                      f"{name}_bn2"), f"{name}_act2")
            y = layers.batch_norm(layers.conv(y, EXPANSION * planes, 1, f"{name}_conv3", scheme=inner),
                                  f"{name}_bn3")
            shortcut = x
            if stride != 1 or x.shape[-1] != EXPANSION * planes:
                shortcut = layers.batch_norm(layers.conv(x, EXPANSION * planes, 1, f"{name}_shortcut", stride,
                                                         scheme=inner), f"{name}_shortcut_bn")
            x = layers.act(keras.layers.Add(name=f"{name}_add")([y, shortcut]), f"{name}_act")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return ModelSpec.of(keras.Model(inputs, layers.output(x, info.num_classes), name="resnet50"))
