"""LeNet-300-100 (LeCun et al. 1998; Frankle & Carbin 2019; paper 003 §Method):
784-300-100-10, fully connected, ReLU, softmax output; its config and builder.

Paper 003 compares eight initializations of its weights (variance_initializers:
Table 1 and Fig. 4); biases start at zero unless --bias_initializer says otherwise
(the authors' PyTorch code left them at PyTorch's default, torch_default).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from keras_initstudy.models.mlp import ACTIVATION, INITIALIZER, build_mlp
from keras_initstudy.models.registry import ModelConfig, ModelSpec, Seeds, register
from keras_initstudy.settings import setting

HIDDEN = (300, 100)


@dataclasses.dataclass(frozen=True)
class LeNetConfig(ModelConfig):
    stackable: ClassVar[bool] = True
    activation: str = setting("relu", "Hidden-layer activation, a Keras name or leaky_relu(negative_slope=...) "
                              "(LeNet-300-100: relu; paper 003's code: leaky_relu(negative_slope=0.05)).",
                              ACTIVATION)
    kernel_initializer: str = setting(
        "xavier_normal", "Initializer of the weights: a name (paper 003: xavier_uniform, xavier_normal, "
        "kaiming_uniform, kaiming_normal, xavier_{uniform,normal}_{half,double}) or name(key=value, ...).",
        INITIALIZER)
    bias_initializer: str = setting("zeros", "Initializer of the biases (torch_default: PyTorch's "
                                    "U(+-1/sqrt(fan_in))).", INITIALIZER)


@register("lenet_300_100", LeNetConfig)
def build(cfg: LeNetConfig, info, seeds_: Seeds) -> ModelSpec:
    model = build_mlp(info.input_shape, info.num_classes, hidden=HIDDEN, activation=cfg.activation,
                      kernel_initializer=cfg.kernel_initializer, bias_initializer=cfg.bias_initializer,
                      init_seed=seeds_.init, data_seed=seeds_.data, name="lenet_300_100")
    return ModelSpec.of(model)
