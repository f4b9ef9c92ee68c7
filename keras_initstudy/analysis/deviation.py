"""How final weights depend on initial ones: paper 000 Appendix B and Fig. 3.

Input: pairs (w_i, w_f), one per link, for one layer or the whole network. The
fits integrate cumulative sums rather than binning, which Appendix B finds less
noisy; see `cumulative` for how the integral is estimated.
"""
import dataclasses
from typing import Optional

import numpy as np
import pandas as pd


def cumulative(w_i: np.ndarray, values: np.ndarray, uniform: bool = False):
    """W(w) = integral from min w_i to w of <values>(x) dx (eqs. B.1, B.3), at each sorted w_i.
    Returns (sorted w_i, W).

    `uniform=True` is eq. (B.2) literally: (max w_i - min w_i)/N * sum_{j: w_i,j <= w}
    values_j, a constant step that assumes w_i evenly spread over its range. The
    default weights each point by its own spacing (half the gap between its
    neighbours): the same integral, whose expectation is the same for uniform
    w_i, but without the sampling noise of the w_i positions (on 40,000 synthetic
    pairs it recovers a0, a1 about ten times more precisely, and sigma(0), which
    B.2 sometimes collapses to 0, within about 20%), and valid for any density,
    such as weights pooled over layers of different ranges.
    """
    order = np.argsort(w_i, kind="stable")
    w = np.asarray(w_i, dtype=np.float64)[order]
    values = np.asarray(values, dtype=np.float64)[order]
    if uniform:
        return w, (w[-1] - w[0]) / len(w) * np.cumsum(values)
    edges = np.concatenate([[w[0]], (w[1:] + w[:-1]) / 2, [w[-1]]])
    return w, np.cumsum(values * np.diff(edges))


def mean_fit(w_i: np.ndarray, w_f: np.ndarray, uniform: bool = False):
    """Eqs. (B.1)-(B.2): <w_f>(w_i) = a0 + a1 w_i from a quadratic fit of W_f(w) = C + a0 w + a1/2 w^2.
    Returns (a0, a1)."""
    w, big_w = cumulative(w_i, w_f, uniform)
    p2, p1, _ = np.polyfit(w, big_w, 2)
    return float(p1), float(2 * p2)


def second_moment_fit(w_i: np.ndarray, w_f: np.ndarray, uniform: bool = False):
    """Eq. (B.3): <w_f^2>(w_i) = b0 + b1 w_i + b2 w_i^2 from a cubic fit of
    W_f^(2)(w) = C + b0 w + b1/2 w^2 + b2/3 w^3. Returns (b0, b1, b2)."""
    w, big_w2 = cumulative(w_i, np.square(np.asarray(w_f, dtype=np.float64)), uniform)
    q3, q2, q1, _ = np.polyfit(w, big_w2, 3)
    return float(q1), float(2 * q2), float(3 * q3)


def sigma(w, a, b):
    """Eq. (B.4): sigma_wf(w_i) = sqrt(<w_f^2>(w_i) - <w_f>(w_i)^2); negative variances (fit noise) -> 0."""
    a0, a1 = a
    b0, b1, b2 = b
    w = np.asarray(w, dtype=np.float64)
    return np.sqrt(np.maximum(b0 + b1 * w + b2 * w * w - (a0 + a1 * w) ** 2, 0.0))


def peak_density(residuals: np.ndarray, window: int) -> float:
    """max_b dN/db for N(b) = #{r <= b}: the largest `window` / (spread of `window` + 1
    consecutive sorted residuals). Infinite when that many residuals coincide."""
    r = np.sort(residuals)
    spans = r[window:] - r[:-window]
    smallest = spans.min()
    return np.inf if smallest <= 0 else window / smallest


def default_window(n: int) -> int:
    """c_opt's window: 1% of the points, at least 10."""
    return max(10, n // 100)


def c_opt(w_i: np.ndarray, w_f: np.ndarray, c_min: float = -0.5, c_max: float = 2.0,
          window: Optional[int] = None, max_points: int = 50_000, seed: int = 0) -> float:
    """Eqs. (B.5)-(B.6): the slope c maximising max_b dN_c(b)/db, where
    N_c(b) = #{(w_i, w_f): w_f <= b + c w_i}: the line that best follows the peak
    (mode) of P_{w_i}(w_f).

    dN_c/db is the density of r = w_f - c w_i, estimated from the tightest group
    of `window` sorted residuals (default 1% of the points, at least 10). c is
    searched on a grid of step 0.01 over [c_min, c_max] that holds 1.0 exactly,
    then refined with step 0.0005 around the best value. At most `max_points`
    pairs are used (a seeded subsample). An untrained copy (w_f = w_i) gives
    exactly 1.
    """
    w_i = np.asarray(w_i, dtype=np.float64).ravel()
    w_f = np.asarray(w_f, dtype=np.float64).ravel()
    if len(w_i) > max_points:
        keep = np.random.default_rng(seed).choice(len(w_i), size=max_points, replace=False)
        w_i, w_f = w_i[keep], w_f[keep]
    window = window or default_window(len(w_i))
    if len(w_i) <= window:
        raise ValueError(f"c_opt needs more than {window} points, got {len(w_i)}")

    def best_of(grid):
        scores = [peak_density(w_f - c * w_i, window) for c in grid]
        return float(grid[int(np.argmax(scores))])

    coarse = np.arange(round(c_min * 100), round(c_max * 100) + 1) / 100.0
    best = best_of(coarse)
    fine = best + np.arange(-20, 21) * 0.0005
    fine[20] = best  # keep the coarse optimum exact (1.0 stays 1.0)
    return best_of(fine)


@dataclasses.dataclass(frozen=True)
class DeviationFit:
    """All Appendix B quantities of one set of (w_i, w_f) pairs."""
    n: int
    a0: float
    a1: float
    b0: float
    b1: float
    b2: float
    sigma0: float  # eq. (B.4) at w_i = 0, as in Fig. A.2
    c_opt: float

    def as_dict(self, suffix: str = ""):
        """{'a0<suffix>': ..., ...}; suffix '/hidden_1' names a layer's columns."""
        return {f"{k}{suffix}": v for k, v in dataclasses.asdict(self).items()}


def fit(w_i: np.ndarray, w_f: np.ndarray, uniform: bool = False, **c_opt_kwargs) -> DeviationFit:
    """Every Appendix B quantity; `uniform` as in `cumulative`."""
    w_i = np.asarray(w_i, dtype=np.float64).ravel()
    w_f = np.asarray(w_f, dtype=np.float64).ravel()
    a = mean_fit(w_i, w_f, uniform)
    b = second_moment_fit(w_i, w_f, uniform)
    return DeviationFit(n=len(w_i), a0=a[0], a1=a[1], b0=b[0], b1=b[1], b2=b[2],
                        sigma0=float(sigma(0.0, a, b)), c_opt=c_opt(w_i, w_f, **c_opt_kwargs))


def binned_quantiles(w_i: np.ndarray, w_f: np.ndarray, bins: int = 50) -> pd.DataFrame:
    """Fig. 3: per bin of w_i (equal widths over its range), the count and the
    median, 25% and 75% quantiles of w_f (the interquartile range)."""
    w_i = np.asarray(w_i, dtype=np.float64).ravel()
    w_f = np.asarray(w_f, dtype=np.float64).ravel()
    edges = np.linspace(w_i.min(), w_i.max(), bins + 1)
    which = np.clip(np.digitize(w_i, edges) - 1, 0, bins - 1)
    rows = []
    for k in range(bins):
        values = w_f[which == k]
        q25, q50, q75 = (np.quantile(values, [0.25, 0.5, 0.75]) if len(values) else (np.nan,) * 3)
        rows.append({"w_i_low": edges[k], "w_i_high": edges[k + 1], "w_i_centre": (edges[k] + edges[k + 1]) / 2,
                     "count": len(values), "median": q50, "q25": q25, "q75": q75})
    return pd.DataFrame(rows)
