"""Paper 001's initialisation schemes (Schicho §2.1), for every Dense and Conv layer of a
model; batch-norm parameters keep their defaults.

    torch_default        PyTorch's nn.Linear / nn.Conv2d default: kernel and bias
                         U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = inputs x kernel area
    zeros_normal_bias    kernel 0, bias bias_scale x N(0, 1)
    zeros_uniform_bias   kernel 0, bias bias_scale x U[0, 1)
    zeros                kernel 0, bias 0: the symmetric network that cannot learn

Every layer draws with its own seed, derived from the init seed and the layer's name.
"""
from __future__ import annotations

from typing import Tuple

from keras_initstudy import lazy, seeds

keras = lazy.module("keras")  # imported on first use: flags are parsed without TensorFlow
initializers = lazy.module("keras_initstudy.initializers")

SCHEMES = ("torch_default", "zeros_normal_bias", "zeros_uniform_bias", "zeros")


def layer_initializers(scheme: str, bias_scale: float, init_seed: int, layer: str,
                       fan_in: int) -> Tuple[keras.initializers.Initializer, keras.initializers.Initializer]:
    """(kernel initializer, bias initializer) of one layer under `scheme`."""
    def seeded(spec, part):
        return initializers.from_spec(spec, seeds.derive(init_seed, layer, part), fan_in=fan_in)

    if scheme == "torch_default":
        return seeded("torch_default", "kernel"), seeded("torch_default", "bias")
    if scheme == "zeros":
        return keras.initializers.Zeros(), keras.initializers.Zeros()
    if scheme in ("zeros_normal_bias", "zeros_uniform_bias"):
        distribution = scheme.split("_")[1]
        return keras.initializers.Zeros(), seeded(f"random_bias(distribution={distribution!r}, "
                                                  f"scale={float(bias_scale)!r})", "bias")
    raise ValueError(f"unknown initialisation scheme {scheme!r}; one of {', '.join(SCHEMES)}")
