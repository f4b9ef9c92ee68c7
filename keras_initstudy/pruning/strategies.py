"""Magnitude pruning strategies behind one small interface (open_lth's idea).

    new_masks = STRATEGIES.get("layerwise")(fraction=0.2, output_fraction=0.1).prune(weights, masks, output)

`weights` and `masks` map weight names ('hidden_1/kernel') to arrays; a strategy
returns new masks that keep every weight already pruned pruned and prune more of
the surviving ones, the smallest |w| first. Ties in |w| are broken by position
(flattened index, then weight order), so the counts are exact and reruns agree.
How many weights a fraction removes: `rounding` of fraction x remaining, 'ceil' as
open_lth, or 'floor' as the released code of paper 003 (int()).
"""
import abc
import math
from typing import Dict, Mapping, Optional

import numpy as np

from keras_initstudy.registry import Registry

ROUNDING = {"ceil": math.ceil, "floor": math.floor}


def layer_of(name: str) -> str:
    return name.rsplit("/", 1)[0]


def smallest_surviving(magnitudes: np.ndarray, alive: np.ndarray, count: int) -> np.ndarray:
    """Flat indices of the `count` smallest surviving magnitudes; ties go to the lower index."""
    candidates = np.flatnonzero(alive)
    order = np.lexsort((candidates, magnitudes[candidates]))  # by |w|, then by index
    return candidates[order[:count]]


class Strategy(abc.ABC):
    def __init__(self, fraction: float, output_fraction: Optional[float] = None, rounding: str = "ceil"):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"prune fraction must be in [0, 1), got {fraction}")
        self.fraction = fraction
        self.output_fraction = fraction if output_fraction is None else output_fraction
        self.round = ROUNDING[rounding]

    def count(self, remaining: int, fraction: float) -> int:
        return min(remaining, int(self.round(fraction * remaining)))

    @abc.abstractmethod
    def prune(self, weights: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray],
              output_layer: str) -> Dict[str, np.ndarray]:
        """New masks after one round of pruning."""


STRATEGIES: Registry[type] = Registry("pruning strategy")


@STRATEGIES.register("layerwise")
class Layerwise(Strategy):
    """Each masked tensor loses `fraction` of its own surviving weights; the output
    layer's tensors lose `output_fraction` (Frankle & Carbin 2019 prune LeNet's output
    layer at half the rate of the others)."""

    def prune(self, weights, masks, output_layer):
        new = {}
        for name, mask in masks.items():
            alive = np.asarray(mask, bool).ravel()
            fraction = self.output_fraction if layer_of(name) == output_layer else self.fraction
            cut = smallest_surviving(np.abs(np.asarray(weights[name], np.float64)).ravel(), alive,
                                     self.count(int(alive.sum()), fraction))
            flat = alive.copy()
            flat[cut] = False
            new[name] = flat.reshape(np.shape(mask))
        return new


@STRATEGIES.register("global")
class Global(Strategy):
    """One magnitude threshold over every masked tensor together (open_lth's
    sparse_global); the output layer takes part unless `output_fraction` is 0, in
    which case it is never pruned."""

    def prune(self, weights, masks, output_layer):
        names = [n for n in masks if not (self.output_fraction == 0 and layer_of(n) == output_layer)]
        alive = np.concatenate([np.asarray(masks[n], bool).ravel() for n in names])
        magnitudes = np.concatenate([np.abs(np.asarray(weights[n], np.float64)).ravel() for n in names])
        cut = smallest_surviving(magnitudes, alive, self.count(int(alive.sum()), self.fraction))
        alive = alive.copy()
        alive[cut] = False
        new, start = dict(masks), 0
        for n in names:
            size = int(np.prod(np.shape(masks[n])))
            new[n] = alive[start:start + size].reshape(np.shape(masks[n]))
            start += size
        return {n: np.asarray(m, bool) for n, m in new.items()}
