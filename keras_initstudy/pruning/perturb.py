"""Re-initialisations of a rewound sub-network (paper 004 §5: Figs. 4 and 5).

IMP finds a mask and rewinds the survivors to their values at iteration k. Paper 004
then asks which property of those values matters, by replacing them, mask kept:

    none               the rewound values w(k) (plain IMP with rewinding)
    random             a fresh draw of the kernels' initializer (Frankle & Carbin 2019's control)
    random_model       an entirely fresh model, biases and batch norm included, masked (open_lth's
                       randomly_reinitialize branch: paper 004's random re-initialisation)
    init               w(0): signs and magnitudes of iteration 0            (Fig. 4)
    init_signs         signs of iteration 0, magnitudes of iteration k       (Fig. 4)
    init_magnitudes    signs of iteration k, magnitudes of iteration 0       (Fig. 4)
    random_magnitudes  signs of iteration k, magnitudes of a fresh draw      (abstract)
    shuffle_layer      w(k)'s survivors permuted within the whole layer      (Fig. 5)
    shuffle_unit       ... within each output unit / filter (last axis)      (Fig. 5)
    shuffle_kernel     ... within each k x k kernel slice of a convolution   (Fig. 5)

Each but random_model acts on one prunable kernel at a time (random_model replaces every
weight; pruning/rounds.py builds it); pruned entries stay exactly zero, and a
permutation moves values only among the surviving entries of one group. Dense kernels
have no spatial slice, so shuffle_kernel leaves them as they are (a ResNet's output
layer); a model with no convolution refuses it (`check`).
"""
from typing import Callable, Dict

import numpy as np

from keras_initstudy import errors
from keras_initstudy.registry import Registry

# (w_k, w_0, fresh, mask, rng) -> new kernel; w_k: the rewound values, w_0: the initial
# ones, fresh: a new draw of the initializer (same shape), mask: bool, rng: numpy Generator.
Perturbation = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.random.Generator], np.ndarray]
PERTURBATIONS: Registry[Perturbation] = Registry("re-initialisation", errors.UserError)


def _signs(values: np.ndarray) -> np.ndarray:
    """+1 / -1 per entry (an exact zero counts as +, so no magnitude is lost)."""
    return np.where(values < 0, -1.0, 1.0).astype(values.dtype)


def shuffle_groups(values: np.ndarray, mask: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Permutes the surviving entries of `values` among themselves within each group id
    of `groups` (an int array of values' shape); pruned entries and group sizes stay."""
    flat, keep, ids = values.reshape(-1).copy(), mask.reshape(-1), groups.reshape(-1)
    for group in np.unique(ids[keep]):
        where = np.flatnonzero(keep & (ids == group))
        flat[where] = flat[rng.permutation(where)]
    return flat.reshape(values.shape)


def layer_groups(shape) -> np.ndarray:
    return np.zeros(shape, np.int64)


def unit_groups(shape) -> np.ndarray:
    """One group per output unit or filter: Keras kernels keep outputs on the last axis."""
    return np.broadcast_to(np.arange(shape[-1]), shape)


def kernel_groups(shape) -> np.ndarray:
    """One group per (input channel, filter) slice of a conv kernel (h, w, in, out);
    every entry of a Dense kernel is its own group."""
    if len(shape) < 3:
        return np.arange(int(np.prod(shape))).reshape(shape)
    slices = np.arange(shape[-2] * shape[-1]).reshape(shape[-2:])
    return np.broadcast_to(slices, shape)


def _register(name: str, function: Perturbation) -> None:
    PERTURBATIONS.register(name)(function)


_register("none", lambda w_k, w_0, fresh, mask, rng: w_k)
_register("random", lambda w_k, w_0, fresh, mask, rng: fresh)
_register("init", lambda w_k, w_0, fresh, mask, rng: w_0)
_register("init_signs", lambda w_k, w_0, fresh, mask, rng: _signs(w_0) * np.abs(w_k))
_register("init_magnitudes", lambda w_k, w_0, fresh, mask, rng: _signs(w_k) * np.abs(w_0))
_register("random_magnitudes", lambda w_k, w_0, fresh, mask, rng: _signs(w_k) * np.abs(fresh))
FRESH_DRAWS = ("random", "random_magnitudes")  # the ones that use `fresh`: a draw of the model's initializer
for _name, _groups in (("shuffle_layer", layer_groups), ("shuffle_unit", unit_groups),
                       ("shuffle_kernel", kernel_groups)):
    _register(_name, lambda w_k, w_0, fresh, mask, rng, g=_groups: shuffle_groups(w_k, mask, g(w_k.shape), rng))


MODEL_LEVEL = ("random_model",)  # replace the whole model, not one kernel at a time (rounds.fresh_model_weights)


def names():
    return (*PERTURBATIONS.names(), *MODEL_LEVEL)


def apply(name: str, w_k: np.ndarray, w_0: np.ndarray, fresh: np.ndarray, mask: np.ndarray,
          rng: np.random.Generator) -> np.ndarray:
    """The kernel `name` makes from the rewound and initial values, masked."""
    return (PERTURBATIONS.get(name)(w_k, w_0, fresh, mask, rng) * mask).astype(w_k.dtype)


def check(name: str, kernel_shapes: Dict[str, tuple]) -> None:
    """Refuses a perturbation the model cannot show (shuffle_kernel without a convolution)."""
    if name in MODEL_LEVEL:
        return
    PERTURBATIONS.get(name)
    if name == "shuffle_kernel" and not any(len(s) >= 3 for s in kernel_shapes.values()):
        raise errors.UserError("shuffle_kernel permutes within convolution kernel slices, and this model has no "
                               "convolution: use shuffle_unit or shuffle_layer")
