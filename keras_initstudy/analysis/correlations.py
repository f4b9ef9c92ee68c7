"""Forward and backward weight correlations, paper 002 eqs. (5)-(6).

A kernel is split into the tensors that make each output channel (forward) or
that act on each input channel (backward); the correlation is the mean, over
all pairs, of a similarity between two such tensors. A Dense kernel is a conv
whose spatial size is 1. Large layers are subsampled to at most `max_rows`
slices (seeded). Two similarities, by KINDS:

  pearson  the authors' code (BeyondSigProp correlation.py): Pearson correlation
           of the two slices (each centred on its own mean), averaged over the
           pairs; a pair with a constant slice (zero variance, where np.corrcoef
           gives NaN) counts as 1. The default of the replication flagfiles.
  cosine   the paper's text (eqs. 5-6: element-wise product over Frobenius
           norms), uncentred. A tensor whose slices are all equal (constant,
           replicated, or all zero) counts as 1 (§4.1); between two zero slices
           the cosine is 1, between a zero slice and a non-zero one it is 0.
"""
import numpy as np

MAX_ROWS = 5000
KINDS = ("pearson", "cosine")


def forward_slices(kernel: np.ndarray) -> np.ndarray:
    """One row per output channel (last axis of a Keras kernel)."""
    kernel = np.asarray(kernel)
    return np.moveaxis(kernel, -1, 0).reshape(kernel.shape[-1], -1)


def backward_slices(kernel: np.ndarray) -> np.ndarray:
    """One row per input channel (second-to-last axis of a Keras kernel)."""
    kernel = np.asarray(kernel)
    return np.moveaxis(kernel, -2, 0).reshape(kernel.shape[-2], -1)


def _subsample(rows: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    if len(rows) > max_rows:
        rows = rows[np.random.default_rng(seed).choice(len(rows), size=max_rows, replace=False)]
    return rows


def _sum_over_pairs(unit: np.ndarray) -> float:
    """Sum over ordered pairs i != j of u_i . u_j for unit rows u: |sum u|^2 - (number of u)."""
    total = unit.sum(axis=0)
    return float(total @ total) - len(unit)


def mean_pairwise_pearson(rows: np.ndarray, max_rows: int = MAX_ROWS, seed: int = 0) -> float:
    """Mean Pearson correlation over the pairs of rows, as the authors' code computes it
    (np.corrcoef, NaN set to 1, mean of the lower triangle) in O(n d) instead of O(n^2 d).
    A row whose entries are all equal is constant (np.corrcoef's NaN); this is decided
    exactly, where np.corrcoef's centring can leave rounding-sized residues."""
    rows = _subsample(rows, max_rows, seed)
    n = len(rows)
    if n < 2 or np.all(rows == rows[0]):  # every pair identical: exactly 1, without rounding
        return 1.0
    constant = np.all(rows == rows[:, :1], axis=1)
    centred = rows[~constant] - rows[~constant].mean(axis=1, keepdims=True)
    unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    varying = len(unit)
    pairs_with_a_constant = n * (n - 1) - varying * (varying - 1)  # each counts 1
    return (_sum_over_pairs(unit) + pairs_with_a_constant) / (n * (n - 1))


def mean_pairwise_cosine(rows: np.ndarray, max_rows: int = MAX_ROWS, seed: int = 0) -> float:
    """Mean cosine over the pairs of rows (paper 002 eqs. 5-6 as written)."""
    rows = np.asarray(rows, dtype=np.float64)
    if len(rows) < 2 or np.all(rows == rows[0]):
        return 1.0
    rows = _subsample(rows, max_rows, seed)
    n = len(rows)
    norms = np.linalg.norm(rows, axis=1)
    zero = norms == 0
    unit = rows[~zero] / norms[~zero, None]
    n_zero = int(zero.sum())
    # Zero-zero pairs give 1 each; zero/non-zero pairs give 0.
    return (_sum_over_pairs(unit) + n_zero * (n_zero - 1)) / (n * (n - 1))


MEAN_PAIRWISE = {"pearson": mean_pairwise_pearson, "cosine": mean_pairwise_cosine}


def mean_pairwise(rows: np.ndarray, kind: str = "pearson", **kwargs) -> float:
    if kind not in MEAN_PAIRWISE:
        raise ValueError(f"correlation kind must be one of {KINDS}, got {kind!r}")
    return MEAN_PAIRWISE[kind](rows, **kwargs)


def forward(kernel: np.ndarray, kind: str = "pearson", **kwargs) -> float:
    """rho_fwd, eq. (5): mean correlation between output filters."""
    return mean_pairwise(forward_slices(kernel), kind, **kwargs)


def backward(kernel: np.ndarray, kind: str = "pearson", **kwargs) -> float:
    """rho_bwd, eq. (6): mean correlation between the slices acting on each input channel."""
    return mean_pairwise(backward_slices(kernel), kind, **kwargs)


def stage_of(name: str) -> str:
    """'stage2' for 'stage2_block1_conv/kernel'; 'stem', 'output' or the layer name otherwise."""
    layer = name.split("/")[0]
    return layer.split("_")[0] if layer.startswith("stage") else layer.replace("_conv", "")
