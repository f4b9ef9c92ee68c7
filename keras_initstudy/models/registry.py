"""The model contract: each model registers its own config class with its builder,
and every builder returns a ModelSpec, so instruments and pruning read what the
model says about itself instead of guessing from variable names.

    @register("mlp", MLPConfig)
    def build(cfg: MLPConfig, info: DatasetInfo, seeds: Seeds) -> ModelSpec: ...

Adding a model is one module in models/ (imported automatically) and its test.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar, Dict, Optional, Sequence, Tuple

from keras_initstudy import errors, lazy, settings
from keras_initstudy.registry import Registry

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow


def kernel_layer_types() -> tuple:
    """The layers whose kernel is an edge weight."""
    return (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
            keras.layers.DepthwiseConv2D)


@dataclasses.dataclass(frozen=True)
class Seeds:
    """Seeds by purpose (seeds.py): `init` draws initial weights, `data` the order of
    examples, augmentation and dropout."""

    init: int
    data: int


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Base of every model's settings; `name` is set by `register`. `revision` counts
    changes to what a model builds from the same settings: it enters the run's
    identity when non-zero, so a rebuilt model never resumes an old run directory."""

    name: ClassVar[str] = ""
    revision: ClassVar[int] = 0
    stackable: ClassVar[bool] = False  # a chain of Dense layers: seeds can train as one ensemble (ensemble/)

    def __post_init__(self):
        settings.validate_fields(self)
        self.validate()

    def validate(self) -> None:
        """Checks that involve several fields; raise settings.ConfigError."""

    def eval_batch_size(self, train_batch_size: int) -> Optional[int]:
        """The batch size evaluations must use, or None where it changes no result."""
        return None


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A built model and what the package needs to know about it.

    kernels:  layers whose kernel is an edge weight (every Dense and Conv layer), in
              model order: what RMSD (paper 000 eq. 3), weight images and correlations use
    prunable: layers whose kernel pruning may remove (default: all of `kernels`;
              biases and batch-norm parameters are never in it)
    output:   the output layer
    features: layers whose outputs are the network's features (paper 002 App. G probes)
    """

    model: keras.Model
    kernels: Tuple[str, ...]
    prunable: Tuple[str, ...]
    output: str
    features: Tuple[str, ...] = ()

    def __post_init__(self):
        names = {layer.name for layer in self.model.layers}
        for name in (*self.kernels, *self.prunable, self.output, *self.features):
            if name not in names:
                raise ValueError(f"model spec names layer {name!r}, which {self.model.name} does not have")
        if set(self.prunable) - set(self.kernels):
            raise ValueError("prunable layers must be kernel layers")

    @classmethod
    def of(cls, model: keras.Model, output: str = "output", prunable: Optional[Sequence[str]] = None,
           features: Sequence[str] = ()) -> "ModelSpec":
        """The spec of a model whose kernel layers are its Dense and Conv layers."""
        kernels = tuple(layer.name for layer in model.layers if isinstance(layer, kernel_layer_types()))
        return cls(model, kernels, tuple(kernels if prunable is None else prunable), output, tuple(features))

    def kernel(self, layer: str):
        return self.model.get_layer(layer).kernel

    def kernel_variables(self, layers: Optional[Sequence[str]] = None) -> Dict[str, object]:
        """{'hidden_1/kernel': variable} for the kernel layers (or the given ones), in order."""
        return {f"{name}/kernel": self.kernel(name) for name in (self.kernels if layers is None else layers)}

    def weight_variables(self, include_biases: bool = False) -> Dict[str, object]:
        """Kernels, and with include_biases the biases of the same layers."""
        found = {}
        for name in self.kernels:
            layer = self.model.get_layer(name)
            found[f"{name}/kernel"] = layer.kernel
            if include_biases and getattr(layer, "bias", None) is not None:
                found[f"{name}/bias"] = layer.bias
        return found


Builder = Callable[[ModelConfig, object, Seeds], ModelSpec]
BUILDERS: Registry[Tuple[type, Builder]] = Registry("model", settings.ConfigError)


def register(name: str, config_class: type) -> Callable[[Builder], Builder]:
    """Decorator: registers a builder and its config class under `name`; a second
    registration of a name fails loudly, as the dataset registry does."""
    if not (dataclasses.is_dataclass(config_class) and issubclass(config_class, ModelConfig)):
        raise TypeError(f"{config_class} must be a ModelConfig dataclass")

    def add(builder: Builder) -> Builder:
        if config_class.__dict__.get("name") and config_class.name != name:
            raise ValueError(f"{config_class.__name__} is already the config of model {config_class.name!r}")
        BUILDERS.add(name, (config_class, builder))
        config_class.name = name
        return builder
    return add


def names() -> Tuple[str, ...]:
    return BUILDERS.names()


def config_class(name: str) -> type:
    return BUILDERS.get(name)[0]


def config_classes() -> Tuple[type, ...]:
    return tuple(config_class(n) for n in names())


def build(cfg: ModelConfig, info, seeds: Seeds) -> ModelSpec:
    """Builds the model `cfg` describes; its initial weights depend only on seeds.init."""
    _, builder = BUILDERS.get(type(cfg).name)
    try:
        return builder(cfg, info, seeds)
    except ValueError as e:  # a shape the model cannot take (e.g. a mask on a conv kernel)
        raise errors.UserError(f"cannot build {type(cfg).name}: {e}") from None
