"""Model builders by name: `build(model_config, dataset_info)` -> an uncompiled Keras model."""
from typing import Callable, Dict

import keras

from keras_initstudy import config as config_lib
from keras_initstudy import errors, initializers
from keras_initstudy.datasets import base as datasets_base
from keras_initstudy.models.constnet import build_constnet
from keras_initstudy.models.leakynet import build_leakynet
from keras_initstudy.models.mlp import build_mlp


def _mlp(cfg: config_lib.ModelConfig, info: datasets_base.DatasetInfo) -> keras.Model:
    if not 0 <= cfg.mask_layer <= cfg.depth:
        raise errors.UserError(f"--mask_layer={cfg.mask_layer} is not a Dense kernel index 0..{cfg.depth}")
    kernels = [cfg.kernel_initializer] * (cfg.depth + 1)
    kernels[cfg.mask_layer] = initializers.masked_or_plain(cfg.kernel_initializer, cfg.mask)
    return build_mlp(info.input_shape, info.num_classes, width=cfg.width, depth=cfg.depth,
                     activation=cfg.activation, kernel_initializer=kernels,
                     bias_initializer=cfg.bias_initializer, dropout=cfg.dropout)


def _constnet(init: str):
    def build(cfg: config_lib.ModelConfig, info: datasets_base.DatasetInfo) -> keras.Model:
        return build_constnet(info.input_shape, info.num_classes, widen_factor=cfg.widen_factor,
                              num_blocks=cfg.num_blocks, batch_norm=cfg.batch_norm, dropout=cfg.dropout,
                              init=init)
    return build


def _leakynet(cfg: config_lib.ModelConfig, info: datasets_base.DatasetInfo) -> keras.Model:
    return build_leakynet(info.input_shape, info.num_classes, widen_factor=cfg.widen_factor,
                          num_blocks=cfg.num_blocks, batch_norm=cfg.batch_norm, dropout=cfg.dropout,
                          leaky_alpha=cfg.leaky_alpha, channel_init=cfg.channel_init)


BUILDERS: Dict[str, Callable[[config_lib.ModelConfig, datasets_base.DatasetInfo], keras.Model]] = {
    "mlp": _mlp,
    "constnet": _constnet("const"),  # paper 002: identical features at init
    "wrn": _constnet("he"),  # paper 002's baseline: the same graph, He-initialised
    "leakynet": _leakynet,
}


def names():
    return tuple(sorted(BUILDERS))


def build(cfg: config_lib.ModelConfig, info: datasets_base.DatasetInfo) -> keras.Model:
    if cfg.model not in BUILDERS:
        raise errors.UserError(f"unknown model {cfg.model!r}; valid names: {', '.join(names())}")
    return BUILDERS[cfg.model](cfg, info)
