"""Forward and backward weight correlations, paper 002 eqs. (5)-(6).

A kernel is split into the tensors that make each output channel (forward) or
that act on each input channel (backward); the correlation is the mean, over
all pairs, of the cosine between two such tensors. A Dense kernel is a conv
whose spatial size is 1. Conventions (§4.1): a tensor whose slices are all equal
(constant, replicated, or all zero) counts as fully correlated, 1.0; between a
zero slice and another zero slice the cosine is 1, between a zero slice and a
non-zero one it is 0. Large layers are subsampled to at most `max_rows` slices.
"""
import numpy as np

MAX_ROWS = 5000


def forward_slices(kernel: np.ndarray) -> np.ndarray:
    """One row per output channel (last axis of a Keras kernel)."""
    kernel = np.asarray(kernel)
    return np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1)


def backward_slices(kernel: np.ndarray) -> np.ndarray:
    """One row per input channel (second-to-last axis of a Keras kernel)."""
    kernel = np.asarray(kernel)
    return np.moveaxis(kernel, -2, 0).reshape(kernel.shape[-2], -1)


def mean_pairwise_cosine(rows: np.ndarray, max_rows: int = MAX_ROWS, seed: int = 0) -> float:
    rows = np.asarray(rows, dtype=np.float64)
    if len(rows) < 2 or np.all(rows == rows[0]):
        return 1.0
    if len(rows) > max_rows:
        rows = rows[np.random.default_rng(seed).choice(len(rows), size=max_rows, replace=False)]
    n = len(rows)
    norms = np.linalg.norm(rows, axis=1)
    zero = norms == 0
    unit = rows[~zero] / norms[~zero, None]
    n_zero = int(zero.sum())
    total = unit.sum(axis=0)
    # Sum over ordered pairs i != j of cos(i, j): non-zero pairs give |sum u|^2 - (number of u);
    # zero-zero pairs give 1 each; zero/non-zero pairs give 0.
    pair_sum = float(total @ total) - len(unit) + n_zero * (n_zero - 1)
    return pair_sum / (n * (n - 1))


def forward(kernel: np.ndarray, **kwargs) -> float:
    """rho_fwd, eq. (5): mean correlation between output filters."""
    return mean_pairwise_cosine(forward_slices(kernel), **kwargs)


def backward(kernel: np.ndarray, **kwargs) -> float:
    """rho_bwd, eq. (6): mean correlation between the slices acting on each input channel."""
    return mean_pairwise_cosine(backward_slices(kernel), **kwargs)


def stage_of(name: str) -> str:
    """'stage2' for 'stage2_block1_conv/kernel'; 'stem', 'output' or the layer name otherwise."""
    layer = name.split("/")[0]
    return layer.split("_")[0] if layer.startswith("stage") else layer.replace("_conv", "")
