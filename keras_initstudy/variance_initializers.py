"""Xavier and Kaiming initializers exactly as paper 003 (Wijnja et al.) Table 1 writes them,
and its halved and doubled Xavier variants (Fig. 4). Weights only; registered by name
for --kernel_initializer by initializers.py (PAPER_003 into initializers.NAMED).

    xavier_uniform    U(-a, a),  a   = gain * sqrt(6 / (fan_in + fan_out))
    xavier_normal     N(0, s^2), s   = gain * sqrt(2 / (fan_in + fan_out))   (not truncated)
    kaiming_uniform   U(-a, a),  a   = gain * sqrt(3 / fan_in)
    kaiming_normal    N(0, s^2), s   = gain * sqrt(1 / fan_in)               (not truncated)
    xavier_{uniform,normal}_{half,double}: gain 0.5 and 2

Table 1's Kaiming has gain 1, which is neither Keras's he_* (gain sqrt(2), and a
truncated normal) nor PyTorch's kaiming_*_ defaults (gain sqrt(2)); the authors' code
used PyTorch's defaults (see flags/wijnja2020_as_released.flags: pass gain=1.4142135623730951).
Keras's glorot_normal is truncated; these normals are not. Fans follow Keras's layout:
Dense kernels are (fan_in, fan_out); conv kernels (kh, kw, c_in, c_out) count kh*kw*c.
"""
import math
from typing import Optional, Tuple

import keras

PACKAGE = "keras_initstudy"


def fans(shape) -> Tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(f"fan-based initializers need a kernel of 2 or more dimensions, got shape {tuple(shape)}")
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class _Scaled(keras.initializers.Initializer):
    """A uniform or normal draw whose bound or standard deviation is gain * scale(fans)."""

    DEFAULT_GAIN = 1.0
    NUMERATOR = {"uniform": 6.0, "normal": 2.0}  # Xavier; Kaiming overrides

    def __init__(self, distribution: str = "uniform", gain: Optional[float] = None, seed: Optional[int] = None):
        if distribution not in ("uniform", "normal"):
            raise ValueError(f"distribution must be uniform or normal, got {distribution!r}")
        self.distribution = distribution
        self.gain = float(self.DEFAULT_GAIN if gain is None else gain)
        self.seed = seed

    def scale(self, shape) -> float:
        """The bound (uniform) or standard deviation (normal) for `shape`."""
        raise NotImplementedError

    def __call__(self, shape, dtype=None):
        size = self.scale(shape)
        if self.distribution == "uniform":
            return keras.random.uniform(shape, -size, size, dtype=dtype, seed=self.seed)
        return keras.random.normal(shape, 0.0, size, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"distribution": self.distribution, "gain": self.gain, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Xavier(_Scaled):
    def scale(self, shape):
        fan_in, fan_out = fans(shape)
        return self.gain * math.sqrt(self.NUMERATOR[self.distribution] / (fan_in + fan_out))


@keras.saving.register_keras_serializable(package=PACKAGE)
class Kaiming(_Scaled):
    NUMERATOR = {"uniform": 3.0, "normal": 1.0}

    def scale(self, shape):
        fan_in, _ = fans(shape)
        return self.gain * math.sqrt(self.NUMERATOR[self.distribution] / fan_in)


def _named(name: str, base: type, distribution: str, gain: float) -> type:
    """A Keras-serializable class `name` = base with this distribution and default gain."""
    def __init__(self, gain: Optional[float] = None, seed: Optional[int] = None):
        base.__init__(self, distribution, gain, seed)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}

    cls = type(name.title().replace("_", ""), (base,), {"__init__": __init__, "get_config": get_config,
                                                         "DEFAULT_GAIN": gain})
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


# Paper 003's eight initializations (Table 1, Fig. 4).
PAPER_003 = {}
for _distribution in ("uniform", "normal"):
    PAPER_003[f"kaiming_{_distribution}"] = _named(f"kaiming_{_distribution}", Kaiming, _distribution, 1.0)
    for _suffix, _gain in (("", 1.0), ("_half", 0.5), ("_double", 2.0)):
        _name = f"xavier_{_distribution}{_suffix}"
        PAPER_003[_name] = _named(_name, Xavier, _distribution, _gain)
