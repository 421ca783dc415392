"""Shared machinery of the hand-written CLV models: collapsed data, MLE fitting, errors.

Every model is fitted by maximum likelihood on the log of its (positive) parameters with
``scipy.optimize.minimize`` (L-BFGS-B with bounds), then polished by Newton steps on a
numerical Hessian. The same Hessian gives the standard errors: on the log scale they are
the square roots of the diagonal of its inverse; the reported confidence intervals are
``exp(log estimate +/- z * se)`` (always positive, asymmetric), and the standard errors on
the natural scale come from the delta method (``estimate * se_log``).

Fitting works on *collapsed rows*: customers with identical inputs become one row with a
weight (their count), so a million customers fit in about a second.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, Self

import numpy as np
import pandas as pd
from scipy import optimize, stats
from threadpoolctl import threadpool_limits

WARM_START_ROWS = 100_000
WARM_START_SAMPLE = 30_000
LOG_BOUND = 12.0  # log-parameters stay in [-12, 12]: parameters between 6e-6 and 1.6e5


class ClvFitError(RuntimeError):
    """A model could not be fitted: the message says which model, why, and what to try."""


@dataclass(frozen=True)
class CountData:
    """Collapsed purchase histories: unique (x, t_x, T) rows with how many customers share each.

    Each column is stored as its distinct values plus one code per row (``ux[cx]`` is the
    rows' x): the models compute logs, gammaln and digamma once per distinct value (a few
    thousand) and only gather and add per row.
    """

    ux: np.ndarray
    ut: np.ndarray
    uT: np.ndarray
    cx: np.ndarray
    ct: np.ndarray
    cT: np.ndarray
    weight: np.ndarray

    @classmethod
    def from_arrays(cls, frequency, recency, T, weights=None) -> "CountData":
        """Check the inputs and collapse identical rows (counts, or summed weights, as weights)."""
        x = np.asarray(frequency, dtype=float)
        t_x = np.asarray(recency, dtype=float)
        age = np.asarray(T, dtype=float)
        w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
        check_histories(x, t_x, age)
        if w.shape != x.shape or np.any(~np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite, non-negative and one per customer")
        rows = collapse(x, t_x, age)
        weight = np.bincount(rows.inverse, weights=w, minlength=len(rows.cx))
        keep = weight > 0
        return cls(rows.ux, rows.ut, rows.uT, rows.cx[keep], rows.ct[keep], rows.cT[keep], weight[keep])

    def scaled(self, factor: float) -> "CountData":
        """The same histories with times multiplied by ``factor``."""
        return CountData(self.ux, self.ut * factor, self.uT * factor, self.cx, self.ct, self.cT, self.weight)

    def sample(self, size: int, seed: int = 0) -> "CountData":
        """A random sample of ``size`` customers (drawn by weight, with replacement)."""
        rows = np.random.default_rng(seed).choice(len(self.weight), size=size, p=self.weight / self.weight.sum())
        weight = np.bincount(rows, minlength=len(self.weight)).astype(float)
        keep = weight > 0
        return CountData(self.ux, self.ut, self.uT, self.cx[keep], self.ct[keep], self.cT[keep], weight[keep])

    @property
    def x(self) -> np.ndarray:
        return self.ux[self.cx]

    @property
    def t_x(self) -> np.ndarray:
        return self.ut[self.ct]

    @property
    def T(self) -> np.ndarray:
        return self.uT[self.cT]

    @property
    def n(self) -> float:
        """Number of customers (sum of weights)."""
        return float(self.weight.sum())


@dataclass(frozen=True)
class Collapsed:
    """Distinct values per column, codes of the distinct rows, and each input row's row."""

    ux: np.ndarray
    ut: np.ndarray
    uT: np.ndarray
    cx: np.ndarray
    ct: np.ndarray
    cT: np.ndarray
    inverse: np.ndarray


def collapse(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> Collapsed:
    """Distinct (x, t_x, T) rows. Each column is factorised with a 1-D np.unique, then the
    three codes are combined into one integer key: ~10x faster than np.unique(axis=0)."""
    ux, ix = np.unique(x, return_inverse=True)
    ut, it = np.unique(t_x, return_inverse=True)
    uT, iT = np.unique(T, return_inverse=True)
    nt, nT = len(ut), len(uT)
    key = (ix.astype(np.int64) * nt + it) * nT + iT
    keys, inverse = np.unique(key, return_inverse=True)
    return Collapsed(ux, ut, uT, keys // (nt * nT), (keys // nT) % nt, keys % nT, inverse.ravel())


def check_histories(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    """Raise ValueError naming how many rows break the (frequency, recency, T) rules."""
    if not (x.shape == t_x.shape == T.shape) or x.ndim != 1:
        raise ValueError("frequency, recency and T must be 1-D arrays of the same length")
    if len(x) == 0:
        raise ValueError("no customers to fit: the summary is empty")
    problems = {
        "have a missing or infinite value": ~(np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T)),
        "have a negative or non-integer frequency": (x < 0) | (x != np.round(x)),
        "have recency < 0 or recency > T": (t_x < 0) | (t_x > T * (1 + 1e-12)),
        "have frequency 0 but recency > 0": (x == 0) & (t_x > 0),
    }
    for what, bad in problems.items():
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} of {len(x)} customer rows {what}; build the inputs with "
                "kit.clv.summary.customer_summary (frequency = repeat purchases, recency and T "
                "in the same time unit)."
            )


@dataclass(frozen=True)
class Estimates:
    """Fitted parameters with Hessian-based standard errors."""

    names: tuple[str, ...]
    values: np.ndarray
    se_log: np.ndarray
    log_likelihood: float
    n: float
    at_bound: tuple[str, ...] = ()  # parameters pushed to their bound: no standard error

    def as_dict(self) -> dict[str, float]:
        """Parameter name -> estimate."""
        return {k: float(v) for k, v in zip(self.names, self.values)}

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """Estimates, standard errors (delta method) and confidence intervals (log scale)."""
        z = stats.norm.ppf(0.5 + level / 2)
        return pd.DataFrame(
            {
                "estimate": self.values,
                "std_error": self.values * self.se_log,
                "lower": self.values * np.exp(-z * self.se_log),
                "upper": self.values * np.exp(z * self.se_log),
            },
            index=pd.Index(self.names, name="parameter"),
        )


def numerical_hessian(fun: Callable[[np.ndarray], float], theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function (symmetric by construction)."""
    k = len(theta)
    h = np.eye(k) * step
    hess = np.empty((k, k))
    f0 = fun(theta)
    for i in range(k):
        for j in range(i, k):
            if i == j:
                value = (fun(theta + h[i]) - 2 * f0 + fun(theta - h[i])) / step**2
            else:
                value = (
                    fun(theta + h[i] + h[j]) - fun(theta + h[i] - h[j]) - fun(theta - h[i] + h[j]) + fun(theta - h[i] - h[j])
                ) / (4 * step**2)
            hess[i, j] = hess[j, i] = value
    return hess


def gradient_hessian(grad: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Hessian from forward differences of an analytic gradient (symmetrised); k + 1
    gradient evaluations, accurate to ~1e-6 relative, plenty for standard errors."""
    k = len(theta)
    g0 = grad(theta)
    hess = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        hess[i] = (grad(theta + e) - g0) / step
    return (hess + hess.T) / 2


@dataclass(frozen=True)
class Optimum:
    """Where the maximisation ended: log-parameters, total log-likelihood, total Hessian,
    and which log-parameters sit on their bound (the likelihood keeps rising towards it)."""

    theta: np.ndarray
    loglik: float
    hessian: np.ndarray
    at_bound: np.ndarray


def maximise(*args, **kwargs) -> Optimum:
    """``_maximise`` with single-threaded BLAS: L-BFGS-B and the Newton steps make many
    tiny BLAS calls, which multi-threaded BLAS makes up to 100x slower on a busy machine."""
    with threadpool_limits(1, "blas"):
        return _maximise(*args, **kwargs)


def _maximise(
    model: str,
    mean_negll: Callable[[np.ndarray], float | tuple[float, np.ndarray]],
    theta0: np.ndarray,
    n: float,
    analytic_gradient: bool,
    tol: float = 1e-12,
) -> Optimum:
    """Minimise a mean negative log-likelihood over log-parameters.

    A parameter that ends on its bound is kept there and flagged (for example a dropout
    parameter going to 0 when the data show no dropout): the others are polished and get
    standard errors, the bound one does not. Raises ClvFitError with the optimiser's
    message when it fails or the result is not finite or not a maximum.
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(theta0)
    with np.errstate(all="ignore"):
        res = optimize.minimize(
            mean_negll,
            theta0,
            jac=analytic_gradient,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": tol, "gtol": 1e-9},
        )
    failed = ClvFitError(
        f"{model}: the likelihood maximisation failed after {res.nit} iterations: {res.message}. "
        "Check the summary (enough repeat buyers? a sensible time unit?) or try another model."
    )
    if not np.isfinite(res.fun):
        raise failed
    value = (lambda th: mean_negll(th)[0]) if analytic_gradient else mean_negll
    theta = res.x
    at_bound = np.abs(theta) >= LOG_BOUND - 1e-6
    free = ~at_bound
    with np.errstate(all="ignore"):
        hess = _hessian(mean_negll, theta, analytic_gradient)
        theta, hess = _newton_polish(value, mean_negll, theta, hess, analytic_gradient, free)
        grad = _gradient(value, mean_negll, theta, analytic_gradient)
    # L-BFGS-B may stop with an "abnormal" line search right at the optimum: judge by the gradient
    if not np.all(np.isfinite(grad[free])) or np.max(np.abs(grad[free]), initial=0.0) > 1e-5:
        raise failed
    return Optimum(theta, -float(value(theta)) * n, hess * n, at_bound)


def _hessian(mean_negll, theta: np.ndarray, analytic_gradient: bool) -> np.ndarray:
    """Hessian of the mean negative log-likelihood at ``theta``."""
    if analytic_gradient:
        return gradient_hessian(lambda th: mean_negll(th)[1], theta)
    return numerical_hessian(mean_negll, theta)


def _gradient(value, mean_negll, theta: np.ndarray, analytic_gradient: bool) -> np.ndarray:
    """Gradient of the mean negative log-likelihood (analytic, or central differences)."""
    if analytic_gradient:
        return mean_negll(theta)[1]
    step = 1e-6
    return np.array([(value(theta + e) - value(theta - e)) / (2 * step) for e in np.eye(len(theta)) * step])


def _newton_polish(value, mean_negll, theta, hess, analytic_gradient, free, steps: int = 3):
    """A few Newton steps on the free parameters from the optimiser's answer (with the
    Hessian of the starting point): they pin the optimum to ~1e-8, so fits agree with other
    implementations to many digits. The Hessian is recomputed once at the end."""
    moved = False
    for _ in range(steps):
        grad = _gradient(value, mean_negll, theta, analytic_gradient)
        try:
            move = np.linalg.solve(hess[np.ix_(free, free)], grad[free])
        except np.linalg.LinAlgError:
            break
        candidate = theta.copy()
        candidate[free] -= move
        if not np.all(np.isfinite(candidate)) or np.any(np.abs(candidate) > LOG_BOUND) or value(candidate) > value(theta):
            break
        moved = moved or np.max(np.abs(move)) > 1e-4
        theta = candidate
    if moved:  # a visible move: the Hessian for the standard errors is taken again
        hess = _hessian(mean_negll, theta, analytic_gradient)
    return theta, hess


def standard_errors(model: str, optimum: Optimum) -> np.ndarray:
    """Standard errors of the log-parameters from the Hessian of the total negative
    log-likelihood over the free parameters (NaN for parameters on their bound)."""
    free = ~optimum.at_bound
    se = np.full(len(optimum.theta), np.nan)
    if not free.any():
        return se
    try:
        cov = np.linalg.inv(optimum.hessian[np.ix_(free, free)])
    except np.linalg.LinAlgError as exc:
        raise ClvFitError(f"{model}: the Hessian at the optimum is singular ({exc}); parameters are not identified.") from exc
    var = np.diag(cov)
    if optimum.at_bound.any():
        # a boundary fit: parameters tied to the bound one (e.g. b when a -> 0) may be
        # unidentified; they get no standard error instead of failing the whole fit
        se[free] = np.sqrt(np.where(np.isfinite(var) & (var > 0), var, np.nan))
        return se
    if np.any(~np.isfinite(var)) or np.any(var <= 0):
        raise ClvFitError(
            f"{model}: the Hessian at the optimum is not positive definite (variances {var.tolist()}); "
            "the optimum is not a proper maximum. Try another model or more history."
        )
    se[free] = np.sqrt(var)
    return se


class CountModel(ABC):
    """A purchase-count model (BG/NBD, MBG/NBD, Pareto/NBD) with a scikit-learn-like interface.

    ``fit(frequency, recency, T, weights)`` then ``params_``, ``estimates_``,
    ``confidence_intervals()``, ``expected_purchases(t)``, ``p_alive(...)`` and
    ``conditional_expected_purchases(t, ...)``. Times are in the summary's time unit.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    time_params: ClassVar[tuple[str, ...]]  # parameters measured in time units (rescaled in fitting)
    analytic_gradient: ClassVar[bool] = False

    def __init__(self, tol: float = 1e-12) -> None:
        self.tol = tol
        self.estimates_: Estimates | None = None

    # ----------------------------------------------------------------- fitting
    def fit(self, frequency, recency, T, weights=None) -> Self:
        """Maximum-likelihood fit on collapsed rows; raises ClvFitError on failure."""
        data = CountData.from_arrays(frequency, recency, T, weights)
        if not np.any(data.x > 0):
            raise ClvFitError(f"{self.label}: nobody made a repeat purchase; the model cannot be fitted.")
        scale = 1.0 / float(np.average(data.T, weights=data.weight) or 1.0)
        scaled = data.scaled(scale)
        theta0 = np.log(self._start(scaled))
        if len(scaled.weight) > WARM_START_ROWS:
            # many distinct rows: a fit on a 30,000-customer sample is a start a few steps
            # from the optimum, so the full data needs only a few likelihood evaluations
            sample = scaled.sample(WARM_START_SAMPLE)
            with contextlib.suppress(ClvFitError):
                theta0 = maximise(self.label, lambda th: self._mean_negll(th, sample), theta0, sample.n, self.analytic_gradient, 1e-9).theta

        def mean_negll(theta: np.ndarray):
            return self._mean_negll(theta, scaled)

        optimum = maximise(self.label, mean_negll, theta0, data.n, self.analytic_gradient, self.tol)
        se_log = standard_errors(self.label, optimum)
        values = np.exp(optimum.theta)
        for i, name in enumerate(self.param_names):
            if name in self.time_params:
                values[i] /= scale
        # the log-likelihood of the unscaled data differs by a constant from the scaled one
        loglik = float(np.sum(data.weight * self._loglik_rows(values, data)))
        at_bound = tuple(name for name, flag in zip(self.param_names, optimum.at_bound) if flag)
        self.estimates_ = Estimates(self.param_names, values, se_log, loglik, data.n, at_bound)
        return self

    def _mean_negll(self, theta: np.ndarray, data: CountData):
        """Mean negative log-likelihood (and its gradient when analytic)."""
        params = np.exp(theta)
        ll = self._loglik_rows(params, data)
        return -float(np.sum(data.weight * ll)) / data.n

    @abstractmethod
    def _loglik_rows(self, params: np.ndarray, data: CountData) -> np.ndarray:
        """Per-row log-likelihood at natural-scale ``params``."""

    @abstractmethod
    def _start(self, data: CountData) -> np.ndarray:
        """Starting values (natural scale) for scaled data."""

    # ----------------------------------------------------------------- results
    @property
    def params_(self) -> dict[str, float]:
        """Fitted parameters by name."""
        return self._fitted().as_dict()

    def _fitted(self) -> Estimates:
        if self.estimates_ is None:
            raise RuntimeError(f"{self.label}: call fit() first")
        return self.estimates_

    def confidence_intervals(self, level: float = 0.95) -> pd.DataFrame:
        """Estimate, standard error and confidence interval per parameter."""
        return self._fitted().table(level)

    @property
    def log_likelihood_(self) -> float:
        """Total log-likelihood at the estimates."""
        return self._fitted().log_likelihood

    def log_likelihood(self, frequency, recency, T, weights=None) -> float:
        """Total log-likelihood of some data at the fitted parameters."""
        data = CountData.from_arrays(frequency, recency, T, weights)
        return float(np.sum(data.weight * self._loglik_rows(self._fitted().values, data)))

    @abstractmethod
    def expected_purchases(self, t) -> np.ndarray:
        """Expected repeat purchases in (0, t] for a customer who just made a first purchase."""

    @abstractmethod
    def p_alive(self, frequency, recency, T) -> np.ndarray:
        """Probability that a customer with this history is still active at T."""

    @abstractmethod
    def conditional_expected_purchases(self, t, frequency, recency, T) -> np.ndarray:
        """Expected purchases in (T, T + t] given the history."""


def per_customer(fn: Callable[..., np.ndarray], frequency, recency, T) -> np.ndarray:
    """Evaluate ``fn(x, t_x, T)`` once per distinct (frequency, recency, T) row and expand
    back to one value per customer: a million customers cost a few hundred thousand rows."""
    x, t_x, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    if len(x) == 0:
        return np.zeros(0)
    rows = collapse(x, t_x, age)
    return np.asarray(fn(rows.ux[rows.cx], rows.ut[rows.ct], rows.uT[rows.cT]))[rows.inverse]
