"""Pareto/NBD purchase model (Schmittlein, Morrison and Colombo 1987).

While active, a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); their lifetime is
exponential with rate mu ~ Gamma(s, beta). Formulas from Fader and Hardie (2005), "A note
on deriving the Pareto/NBD model and related expressions".

Written by hand for the reasons given in kit.clv.bgnbd (PyMC-Marketing needs a compiler
toolchain and about 800 MB, and its MAP fit is several times slower at a million
customers). The likelihood's hypergeometric terms 2F1(A, B; A+1; z) are evaluated through
Euler's transformation (1-z)^(1-B) 2F1(1, A+1-B; A+1; z), whose second factor stays
between 1 and A/(B-1): no overflow for frequent buyers or far-apart alpha and beta, and
the difference of the two terms is taken in log space (log1p/expm1).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import gammaln, hyp2f1

from kit.clv.base import CountData, CountModel

SERIES_LIMIT = 0.5  # z <= 0.5: power series; z <= 0.9: scipy; above: Pfaff transformation
PFAFF_LIMIT = 0.9


def hyp2f1_one(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """2F1(1, b; c; z) for 0 < b < c and 0 <= z < 1, fast in every part of that range.

    scipy's general hyp2f1 is accurate here but takes up to 50 microseconds per value as
    z nears 1 (which happens when the optimiser explores far-apart alpha and beta). For
    small z the power series (terms shrink at least by z each step, so <= 56 terms) is
    summed for all values at once; for z > PFAFF_LIMIT Pfaff's transformation
    2F1(1, b; c; z) = 2F1(1, c-b; c; z/(z-1)) / (1-z) gives scipy an easy argument
    (relative error below 1e-7 there, checked against the series in the tests).
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (b, c, z)))
    out = np.empty(z.shape)
    low = z <= SERIES_LIMIT
    if low.any():
        bl, cl, zl = b[low], c[low], z[low]
        term = np.ones(zl.shape)
        total = np.ones(zl.shape)
        for j in range(64):  # 0.5 ** 56 < 1e-17
            term = term * (bl + j) / (cl + j) * zl
            total += term
        out[low] = total
    middle = ~low & (z <= PFAFF_LIMIT)
    out[middle] = hyp2f1(1.0, b[middle], c[middle], z[middle])
    high = z > PFAFF_LIMIT
    if high.any():
        zh = z[high]
        out[high] = hyp2f1(1.0, c[high] - b[high], c[high], zh / (zh - 1)) / (1 - zh)
    return out


def _log_term(A: np.ndarray, B: np.ndarray, small: float, large: float, t: np.ndarray) -> np.ndarray:
    """log[2F1(A, B; A+1; (large-small)/(large+t)) / (large+t)^A], stably."""
    z = (large - small) / (large + t)
    log_one_minus_z = np.log(small + t) - np.log(large + t)
    return (1 - B) * log_one_minus_z + np.log(hyp2f1_one(A + 1 - B, A + 1, z)) - A * np.log(large + t)


class ParetoNBDModel(CountModel):
    """Pareto/NBD: parameters r, alpha (purchase rate) and s, beta (lifetime)."""

    name: ClassVar[str] = "paretonbd"
    label: ClassVar[str] = "Pareto/NBD"
    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    time_params: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def _start(self, data: CountData) -> np.ndarray:
        rate = np.average(data.x, weights=data.weight) / max(np.average(data.T, weights=data.weight), 1e-9)
        return np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0])

    def _log_a0(self, params: np.ndarray, x, t_x, T) -> np.ndarray:
        """log A0 (the 'left between t_x and T' integral), -inf when t_x == T."""
        r, alpha, s, beta = params
        A = r + s + x
        B = s + 1 if alpha >= beta else r + x
        small, large = min(alpha, beta), max(alpha, beta)
        at_tx = _log_term(A, B, small, large, t_x)
        at_T = _log_term(A, B, small, large, T)
        with np.errstate(divide="ignore"):
            return at_tx + np.log(-np.expm1(np.minimum(at_T - at_tx, 0.0)))

    def _log_odds_left(self, params, x, t_x, T) -> np.ndarray:
        """log of P(left by T | history) / P(active at T | history)."""
        r, alpha, s, beta = params
        return (
            np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + self._log_a0(params, x, t_x, T)
        )

    def _loglik_rows(self, params: np.ndarray, data: CountData) -> np.ndarray:
        r, alpha, s, beta = params
        x, t_x, T = data.x, data.t_x, data.T
        base = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        log_active = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        log_left = np.log(s) - np.log(r + s + x) + self._log_a0(params, x, t_x, T)
        return base + np.logaddexp(log_active, log_left)

    # ----------------------------------------------------------------- predictions
    def expected_purchases(self, t) -> np.ndarray:
        r, alpha, s, beta = self._fitted().values
        t = np.asarray(t, dtype=float)
        return r / alpha * _lifetime_integral(s, beta, t)

    def p_alive(self, frequency, recency, T) -> np.ndarray:
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(self._log_odds_left(self._fitted().values, x, t_x, T)))

    def conditional_expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        r, alpha, s, beta = self._fitted().values
        x, t_x, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
        t = np.asarray(t, dtype=float)
        return (r + x) / (alpha + T) * _lifetime_integral(s, beta + T, t) * self.p_alive(x, t_x, T)


def _lifetime_integral(s: float, scale, t) -> np.ndarray:
    """Expected active time in the next t for an active customer: scale/(s-1) [1 - (scale/(scale+t))^(s-1)].

    At s = 1 this is scale * log(1 + t/scale); expm1/log1p keep it exact near s = 1.
    """
    log_ratio = np.log1p(t / scale)
    if abs(s - 1) < 1e-10:
        return scale * log_ratio
    return scale * -np.expm1(-(s - 1) * log_ratio) / (s - 1)
