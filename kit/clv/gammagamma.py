"""Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV"; Colombo and Jiang 1999).

Each repeat purchase of a customer is Gamma(p, nu) with nu ~ Gamma(q, v) across customers,
so a customer's average spend per order is shrunk towards the population mean by how many
repeat orders we have seen. It assumes spend per order is independent of how often the
customer buys: ``independence_check`` measures that correlation (stated in the report).

Written by hand, like the purchase models (see kit.clv.bgnbd for why): the likelihood is
in log space (gammaln), fitted on collapsed (frequency, monetary) rows by the shared
maximum-likelihood routine of kit.clv.base, with Hessian-based standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from kit.clv.base import ClvFitError, Estimates, maximise, standard_errors

MIN_REPEAT_BUYERS = 20


@dataclass(frozen=True)
class IndependenceCheck:
    """Correlation between repeat frequency and average repeat spend among repeat buyers."""

    pearson: float
    spearman: float
    n: int

    @property
    def ok(self) -> bool:
        """Weak correlation (|Pearson| < 0.3): the Gamma-Gamma assumption is reasonable."""
        return abs(self.pearson) < 0.3


def independence_check(frequency, monetary) -> IndependenceCheck | None:
    """Pearson and Spearman correlation of frequency and monetary value for repeat buyers;
    None when it is undefined: fewer than 3 repeat buyers with positive spend, or one value
    for all of them (one price for everyone: spend cannot depend on frequency)."""
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    keep = (x > 0) & (m > 0)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(m[keep]) == 0:
        return None
    return IndependenceCheck(
        pearson=float(stats.pearsonr(x[keep], m[keep]).statistic),
        spearman=float(stats.spearmanr(x[keep], m[keep]).statistic),
        n=int(keep.sum()),
    )


class GammaGammaModel:
    """Gamma-Gamma: fit on repeat buyers' (frequency, monetary); predicts spend per order."""

    name = "gammagamma"
    label = "Gamma-Gamma"
    param_names = ("p", "q", "v")

    def __init__(self, tol: float = 1e-12) -> None:
        self.tol = tol
        self.estimates_: Estimates | None = None

    def fit(self, frequency, monetary, weights=None) -> Self:
        """Fit on customers with frequency > 0 and monetary > 0 (others are ignored)."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        if not (x.shape == m.shape == w.shape):
            raise ValueError("frequency, monetary and weights must have the same length")
        if np.any(~np.isfinite(m)) or np.any(m < 0):
            raise ValueError(f"{int((~np.isfinite(m) | (m < 0)).sum())} monetary values are missing or negative")
        keep = (x > 0) & (m > 0) & (w > 0)
        if keep.sum() < MIN_REPEAT_BUYERS:
            raise ClvFitError(
                f"Gamma-Gamma: only {int(keep.sum())} repeat buyers with positive spend; "
                f"at least {MIN_REPEAT_BUYERS} are needed to fit spend per order."
            )
        rows, inverse = np.unique(np.column_stack([x[keep], m[keep]]), axis=0, return_inverse=True)
        weight = np.bincount(inverse.ravel(), weights=w[keep], minlength=len(rows))
        rx, rm = rows[:, 0], rows[:, 1]
        scale = 1.0 / float(np.average(rm, weights=weight))  # money in units of the mean spend
        sm = rm * scale
        n = float(weight.sum())

        def mean_negll(theta: np.ndarray) -> float:
            return -float(np.dot(weight, _loglik_rows(np.exp(theta), rx, sm))) / n

        optimum = maximise(self.label, mean_negll, np.log([1.0, 1.0, 1.0]), n, False, self.tol)
        values = np.exp(optimum.theta)
        values[2] /= scale
        loglik = float(np.dot(weight, _loglik_rows(values, rx, rm)))
        at_bound = tuple(name for name, flag in zip(self.param_names, optimum.at_bound) if flag)
        self.estimates_ = Estimates(self.param_names, values, standard_errors(self.label, optimum), loglik, n, at_bound)
        return self

    def _fitted(self) -> Estimates:
        if self.estimates_ is None:
            raise RuntimeError("Gamma-Gamma: call fit() first")
        return self.estimates_

    @property
    def params_(self) -> dict[str, float]:
        """Fitted parameters by name."""
        return self._fitted().as_dict()

    @property
    def log_likelihood_(self) -> float:
        """Total log-likelihood at the estimates."""
        return self._fitted().log_likelihood

    def confidence_intervals(self, level: float = 0.95) -> pd.DataFrame:
        """Estimate, standard error and confidence interval per parameter."""
        return self._fitted().table(level)

    def population_mean_spend(self) -> float:
        """Expected spend per order of a customer we know nothing about: p v / (q - 1)."""
        p, q, v = self._fitted().values
        if q <= 1:
            raise ClvFitError(f"Gamma-Gamma: q = {q:.3g} <= 1, so the mean spend per order is infinite.")
        return float(p * v / (q - 1))

    def conditional_expected_spend(self, frequency, monetary) -> np.ndarray:
        """Expected spend per future order: a weighted mean of the population mean and the
        customer's own average, (q-1)/(px+q-1) * pv/(q-1) + px/(px+q-1) * monetary."""
        p, q, v = self._fitted().values
        x = np.asarray(frequency, dtype=float)
        m = np.where(x > 0, np.asarray(monetary, dtype=float), 0.0)
        return (p * v + p * x * m) / (p * x + q - 1) if q > 1 else np.full_like(x, np.inf)


class MeanSpendModel:
    """Spend per future order = the customer's own average repeat spend (the population's
    average, weighted by repeat orders, for a customer without a repeat order).

    The fallback of ``fit_spend`` when Gamma-Gamma cannot be fitted: with one price for
    everyone or a fixed subscription fee, spend per order barely varies within a customer,
    the Gamma-Gamma likelihood has no interior maximum (the fit fails its gradient check or
    gives q <= 1), and a plain average is then the honest estimate. Also used with fewer
    than ``MIN_REPEAT_BUYERS`` repeat buyers.
    """

    name = "mean_spend"
    label = "Average spend"

    def __init__(self) -> None:
        self.mean_: float | None = None

    def fit(self, frequency, monetary) -> Self:
        """The population's average spend per repeat order over repeat buyers with positive spend."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        if not keep.any():
            raise ClvFitError("no repeat buyer with a positive spend: spend per order cannot be estimated")
        self.mean_ = float(np.average(m[keep], weights=x[keep]))
        return self

    def population_mean_spend(self) -> float:
        """Expected spend per order of a customer we know nothing about."""
        if self.mean_ is None:
            raise RuntimeError("MeanSpendModel: call fit() first")
        return self.mean_

    def conditional_expected_spend(self, frequency, monetary) -> np.ndarray:
        """The customer's average repeat spend, or the population's without a repeat order."""
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary, dtype=float)
        return np.where((x > 0) & (m > 0), m, self.population_mean_spend())


SpendModel = GammaGammaModel | MeanSpendModel


def fit_spend(frequency, monetary) -> SpendModel:
    """Gamma-Gamma on (frequency, monetary), or ``MeanSpendModel`` when it cannot be fitted
    (too few repeat buyers, no maximum, or an infinite population mean: q <= 1)."""
    try:
        spend = GammaGammaModel().fit(frequency, monetary)
        spend.population_mean_spend()  # raises for q <= 1
        return spend
    except ClvFitError:
        return MeanSpendModel().fit(frequency, monetary)


def _loglik_rows(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Log density of a customer's mean repeat spend m over x repeat orders."""
    p, q, v = params
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )
