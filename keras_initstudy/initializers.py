"""Keras initializers the papers need.

MaskedInitializer (paper 000 §4, footnote 5): weights drawn by a base initializer,
then those outside a mark (a letter, or any 0/1 matrix) set to exactly zero.
"""
import inspect
from typing import Optional, Union

import numpy as np

from keras_initstudy.registry import Registry

PACKAGE = "keras_initstudy"

# The package's own initializers by the name a flag gives them (e.g. papers 001, 003):
# decorate a class with @NAMED.register("name") to make it available to from_spec.
# Defined before Keras is imported: when this module is what first imports Keras,
# keras_objects.register() runs then and its modules add their names here.
NAMED: Registry[type] = Registry("initializer")

import keras  # noqa: E402

from keras_initstudy import masks, seeds, variance_initializers  # noqa: E402
from keras_initstudy.specs import parse_spec  # noqa: E402,F401 (part of this module's API)


def named() -> Registry:
    """NAMED, with paper 003's eight initializers (variance_initializers.PAPER_003) added on
    first use: read at call time, since either module may be the one imported first."""
    for name, cls in variance_initializers.PAPER_003.items():
        if name not in NAMED:
            NAMED.add(name, cls)
    return NAMED


def initializer_class(name: str) -> type:
    if name in named():
        return NAMED.get(name)
    try:
        found = keras.initializers.get(name)
    except (ValueError, TypeError):
        found = None
    if found is None:
        raise ValueError(f"unknown initializer {name!r} (a Keras name such as glorot_uniform, "
                         f"or one of: {', '.join(named().names()) or 'none registered'})")
    return type(found)


def from_spec(spec: Union[str, dict, keras.initializers.Initializer], seed: Optional[int] = None,
              **context) -> keras.initializers.Initializer:
    """A new initializer from 'name' or 'name(key=value, ...)' (or a config dict, or an
    instance to copy). Random initializers get `seed` (see seeds.py: one seed per draw);
    a seed written in the spec itself is an error, since every layer would share it.
    `context` (e.g. fan_in=784 for a bias) is passed to initializers that take it."""
    if not isinstance(spec, str):
        instance = keras.initializers.get(spec)
        config = instance.get_config()
        if seed is not None and "seed" in config:
            config["seed"] = seed
        return type(instance).from_config(config)
    name, kwargs = parse_spec(spec)
    if "seed" in kwargs:
        raise ValueError(f"{spec!r}: seeds come from --init_seed, not from the initializer")
    cls = initializer_class(name)
    parameters = inspect.signature(cls.__init__).parameters
    if "seed" in parameters:
        kwargs["seed"] = seed
    for key, value in context.items():
        if key in parameters and key not in kwargs:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{spec!r}: {e}") from None


def check_spec(text: str) -> None:
    """Raises ValueError unless `text` builds an initializer."""
    from_spec(text, seed=0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedInitializer(keras.initializers.Initializer):
    """`base(shape) * mask`: zero outside the mark.

    `mask` is either glyph text (rasterised to whatever 2-D shape is requested,
    see masks.glyph_mask) or a 0/1 array of exactly the requested shape.
    """

    def __init__(self, base: Union[str, dict, keras.initializers.Initializer] = "glorot_uniform",
                 mask: Union[str, np.ndarray, list] = "a", seed: Optional[int] = None):
        self.seed = seed
        self.base = from_spec(base, seed)
        self.mask = mask if isinstance(mask, str) else np.asarray(mask, dtype=np.float32)

    def mask_for(self, shape) -> np.ndarray:
        if len(shape) != 2:
            raise ValueError(f"MaskedInitializer needs a 2-D weight matrix, got shape {tuple(shape)}")
        if isinstance(self.mask, str):
            return masks.glyph_mask(tuple(shape), self.mask)
        if tuple(self.mask.shape) != tuple(shape):
            raise ValueError(f"mask shape {self.mask.shape} does not match weight shape {tuple(shape)}")
        return self.mask

    def __call__(self, shape, dtype=None):
        weights = self.base(shape, dtype=dtype)
        return weights * keras.ops.cast(self.mask_for(shape), weights.dtype)

    def get_config(self):
        mask = self.mask if isinstance(self.mask, str) else self.mask.tolist()
        return {"base": keras.initializers.serialize(self.base), "mask": mask, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(base=keras.initializers.deserialize(config["base"]), mask=config["mask"],
                   seed=config.get("seed"))


@NAMED.register("torch_default")
@keras.saving.register_keras_serializable(package=PACKAGE)
class TorchDefault(keras.initializers.Initializer):
    """PyTorch's default for nn.Linear / nn.Conv2d weights and biases:
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = inputs x kernel area (what
    kaiming_uniform_(a=sqrt(5)) gives for weights). A kernel's fan_in comes from its
    shape; a bias's must be given (builders pass the layer's)."""

    def __init__(self, fan_in: Optional[int] = None, seed: Optional[int] = None):
        self.fan_in = fan_in
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in = self.fan_in
        if fan_in is None:
            if len(shape) < 2:
                raise ValueError("torch_default on a bias needs the layer's fan_in")
            fan_in = int(np.prod(shape[:-1]))
        bound = 1.0 / np.sqrt(fan_in)
        return keras.random.uniform(shape, -bound, bound, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"fan_in": self.fan_in, "seed": self.seed}


@NAMED.register("random_bias")
@keras.saving.register_keras_serializable(package=PACKAGE)
class RandomBias(keras.initializers.Initializer):
    """Paper 001 §2.1: the random biases that break the symmetry of zero weights,
    scale x N(0, 1) (distribution='normal') or scale x U[0, 1) ('uniform'); §3.2 scales
    them by 0.01 and 100. As the authors' code: torch.randn_like / torch.rand_like times
    the factor."""

    DISTRIBUTIONS = ("normal", "uniform")

    def __init__(self, distribution: str = "normal", scale: float = 1.0, seed: Optional[int] = None):
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {self.DISTRIBUTIONS}, got {distribution!r}")
        self.distribution = distribution
        self.scale = float(scale)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        draw = (keras.random.normal(shape, dtype=dtype, seed=self.seed) if self.distribution == "normal"
                else keras.random.uniform(shape, 0.0, 1.0, dtype=dtype, seed=self.seed))
        return self.scale * draw

    def get_config(self):
        return {"distribution": self.distribution, "scale": self.scale, "seed": self.seed}


def masked_or_plain(base: keras.initializers.Initializer, mask: Optional[str]
                    ) -> keras.initializers.Initializer:
    """The initializer for a layer that may carry a letter mark ('none' or None: no mark)."""
    if mask in (None, "", "none"):
        return base
    return MaskedInitializer(base, mask)


def _check_conv(shape):
    if len(shape) != 4:
        raise ValueError(f"expected a conv kernel (kh, kw, c_in, c_out), got shape {tuple(shape)}")


def centre_tap(shape) -> np.ndarray:
    """The delta kernel: 1 at the spatial centre, 0 elsewhere, shape (kh, kw)."""
    delta = np.zeros(shape[:2], dtype=np.float32)
    delta[(shape[0] - 1) // 2, (shape[1] - 1) // 2] = 1.0
    return delta


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelAveraging(keras.initializers.Initializer):
    """Paper 002 App. A: every output channel averages the input channels at the
    centre tap (1/C_in there, 0 at other taps). For a 1x1 kernel this is the
    constant 1/C_in of ConstNet's widening convolutions. Output channels are
    identical functions of the input."""

    def __call__(self, shape, dtype=None):
        _check_conv(shape)
        kernel = centre_tap(shape)[:, :, None, None] * np.full(shape[2:], 1.0 / shape[2], np.float32)
        return keras.ops.cast(kernel, dtype or "float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelMatrix(keras.initializers.Initializer):
    """Paper 002 §5.1 (LeakyNet): a conv kernel factorised as delta kernel x channel
    matrix, times `scale`:
        'i'          identity; when widening (C_out > C_in) output channel j copies
                     input channel j mod C_in, as the authors' ConstIdentity does
        '1'          averaging, every entry 1/C_in
        'replicate'  the same matrix as 'i' (the name older saved models use)
    A negative scale makes each neuron swap sign (see models/leakynet.py)."""

    KINDS = ("i", "1", "replicate")

    def __init__(self, kind: str = "i", scale: float = 1.0):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.scale = float(scale)

    def channel_matrix(self, c_in: int, c_out: int) -> np.ndarray:
        if self.kind in ("i", "replicate") and c_out < c_in:
            raise ValueError(f"identity channel matrix needs C_out >= C_in, got {c_in} -> {c_out}")
        if self.kind == "1":
            return np.full((c_in, c_out), 1.0 / c_in, np.float32)
        return (np.arange(c_out)[None, :] % c_in == np.arange(c_in)[:, None]).astype(np.float32)

    def __call__(self, shape, dtype=None):
        _check_conv(shape)
        kernel = centre_tap(shape)[:, :, None, None] * self.channel_matrix(shape[2], shape[3])
        return keras.ops.cast(self.scale * kernel, dtype or "float32")

    def get_config(self):
        return {"kind": self.kind, "scale": self.scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReplicatedUnits(keras.initializers.Initializer):
    """Paper 002 §2.1, App. E eq. (11): a Dense kernel whose `unique * replicas`
    units are `replicas` copies of each of `unique` units drawn by `base` (He),
    plus independent noise `noise` times a fresh draw of `base`. Units are the
    kernel's columns in Keras (the paper's rows of W1, in PyTorch's layout); the
    copies of a unit are adjacent. The units and the noise are drawn with seeds
    derived from `seed` for each purpose: one Keras initializer called twice would
    return the same values, and the 'noise' would only rescale the units."""

    def __init__(self, unique: int, replicas: int, noise: float = 0.0, base="he_normal", seed: int = 0):
        self.unique = int(unique)
        self.replicas = int(replicas)
        self.noise = float(noise)
        self.base = keras.initializers.serialize(keras.initializers.get(base))
        self.seed = int(seed)

    def __call__(self, shape, dtype=None):
        fan_in, units = shape
        if units != self.unique * self.replicas:
            raise ValueError(f"{units} units is not unique {self.unique} x replicas {self.replicas}")
        # A draw of the full shape gives He's variance for this layer; its first `unique` columns are the units.
        draw = from_spec(self.base, seeds.derive(self.seed, "units"))((fan_in, units), dtype=dtype)
        kernel = keras.ops.repeat(draw[:, :self.unique], self.replicas, axis=1)
        if self.noise:
            kernel = kernel + self.noise * from_spec(self.base, seeds.derive(self.seed, "noise"))(
                (fan_in, units), dtype=dtype)
        return kernel

    def get_config(self):
        return {"unique": self.unique, "replicas": self.replicas, "noise": self.noise, "base": self.base,
                "seed": self.seed}
