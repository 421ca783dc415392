"""Experiment statistics on aggregated sufficient statistics (plain functions + dataclasses).

Every function takes per-arm sums (n, sum, sum of squares, cross-products), never per-user
rows, so a readout of millions of users costs one aggregation query. Fields may be scalars
or numpy arrays of equal shape: the simulation tests vectorise over thousands of A/A
experiments by passing arrays.

Formulas follow GrowthBook's stats engine (gbstats, Apache-2.0), which cannot be a
dependency because it pins pandas < 2:

* relative lift by the delta method (gbstats ``frequentist/tests.py`` ``TTest.variance``):
  Var(m_t/m_c - 1) ~= v_t/(m_c^2 n_t) + v_c m_t^2/(m_c^4 n_c);
* ratio metrics by the delta method (gbstats ``RatioStatistic.variance``):
  Var(Y/X) ~= [v_y/m_x^2 - 2 c_xy m_y/m_x^3 + m_y^2 v_x/m_x^4] / n;
* Gaussian Bayesian view (gbstats ``bayesian/tests.py`` with a flat prior): chance to beat
  control = Phi(mean/sd) of the relative effect; expected loss of choosing the variant =
  E[max(0, -effect)] = sd phi(mean/sd) - mean Phi(-mean/sd);
* always-valid intervals: the normal-mixture confidence sequence of Howard et al. (2021)
  in the form of Waudby-Smith et al. (2023) eq. 9 used by gbstats
  ``sequential_interval_halfwidth``, with rho from eq. 161.

CUPED is computed as the OLS regression y ~ 1 + treatment + x + d on the two arms, where x
is the user's pre-period value of the metric and d indicates that the user existed before
the pre-period (users with no pre-period get x = 0 and d = 0, so they get their own
intercept instead of being treated as "inactive"). The treatment coefficient and its
classical OLS standard error are solved from the summed cross-products, so they equal
statsmodels OLS exactly; the classical SE is consistent for equal-size arms and for
treatments that do not change the variance, which is the A/B setting it is used in.

Hand-written instead of statsmodels because statsmodels is only a test dependency and
because its functions need per-user rows; the tests check each function against
statsmodels/scipy to 1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps
from scipy.optimize import brentq

Array = np.ndarray | float

#: GrowthBook's default sequential tuning parameter (users at which the interval is tightest).
DEFAULT_SEQUENTIAL_TUNING = 5000.0


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ArmStats:
    """One metric in one arm: user count, sum and sum of squares of the per-user values."""

    n: Array
    sum: Array
    sum_sq: Array

    @property
    def mean(self) -> Array:
        return np.asarray(self.sum) / self.n

    @property
    def var(self) -> Array:
        """Sample variance (ddof = 1), clipped at 0 against rounding."""
        n = np.asarray(self.n, dtype=float)
        return np.maximum((np.asarray(self.sum_sq) - np.asarray(self.sum) ** 2 / n) / (n - 1), 0.0)

    @classmethod
    def from_values(cls, values: np.ndarray) -> "ArmStats":
        """Sufficient statistics of per-user values along the last axis."""
        v = np.asarray(values, dtype=float)
        return cls(n=float(v.shape[-1]), sum=v.sum(axis=-1), sum_sq=(v**2).sum(axis=-1))


@dataclass(frozen=True)
class RatioStats:
    """A ratio metric (sum of numerators / sum of denominators) in one arm."""

    n: Array
    num: ArmStats
    den: ArmStats
    sum_cross: Array  # sum over users of numerator * denominator

    @property
    def ratio(self) -> Array:
        return np.asarray(self.num.sum) / np.asarray(self.den.sum)

    @property
    def var_ratio(self) -> Array:
        """Delta-method variance of the ratio of means (gbstats RatioStatistic)."""
        n = np.asarray(self.n, dtype=float)
        cov = (np.asarray(self.sum_cross) - np.asarray(self.num.sum) * np.asarray(self.den.sum) / n) / (n - 1)
        my, mx = self.num.mean, self.den.mean
        per_user = self.num.var / mx**2 - 2 * cov * my / mx**3 + my**2 * self.den.var / mx**4
        return np.maximum(per_user, 0.0) / n

    @classmethod
    def from_values(cls, num: np.ndarray, den: np.ndarray) -> "RatioStats":
        y, x = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
        return cls(n=float(y.shape[-1]), num=ArmStats.from_values(y), den=ArmStats.from_values(x),
                   sum_cross=(y * x).sum(axis=-1))


@dataclass(frozen=True)
class CupedStats:
    """Metric y with covariates (x = pre-period value, d = has a pre-period) in one arm.

    ``sums`` has shape (..., 3) for (y, x, d); ``cross`` has shape (..., 3, 3) with the
    sums of products of those variables over the arm's users.
    """

    n: Array
    sums: np.ndarray
    cross: np.ndarray

    @property
    def y(self) -> ArmStats:
        return ArmStats(self.n, self.sums[..., 0], self.cross[..., 0, 0])

    @classmethod
    def from_values(cls, y: np.ndarray, x: np.ndarray, d: np.ndarray) -> "CupedStats":
        z = np.stack([np.asarray(y, float), np.asarray(x, float), np.asarray(d, float)], axis=-1)
        return cls(n=float(z.shape[-2]), sums=z.sum(axis=-2), cross=np.einsum("...ij,...ik->...jk", z, z))


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Effect:
    """Variant minus control: absolute and relative effect with intervals and p-values.

    ``df`` is the degrees of freedom of the reference t distribution (inf for a z test).
    """

    control_mean: Array
    variant_mean: Array
    estimate: Array
    se: Array
    ci_low: Array
    ci_high: Array
    p_value: Array
    df: Array
    rel: Array
    rel_se: Array
    rel_ci_low: Array
    rel_ci_high: Array


def _quantile(alpha: float, df: Array) -> Array:
    """Two-sided critical value: t with ``df`` degrees of freedom (normal when df is inf)."""
    return sps.t.ppf(1 - alpha / 2, df)


def interval(estimate: Array, se: Array, df: Array, alpha: float) -> tuple[Array, Array]:
    """Two-sided 1 - alpha interval estimate +- t(df) se (used for corrected levels)."""
    q = _quantile(alpha, df)
    return estimate - q * se, estimate + q * se


def _effect(mc: Array, mt: Array, vc_n: Array, vt_n: Array, estimate: Array, se: Array,
            p_value: Array, df: Array, alpha: float) -> Effect:
    """Assemble an Effect; relative lift by the gbstats delta method on the arm means."""
    q = _quantile(alpha, df)
    mc_arr = np.asarray(mc, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.asarray(mt) / mc_arr - 1
        rel_se = np.sqrt(vt_n / mc_arr**2 + vc_n * np.asarray(mt) ** 2 / mc_arr**4)
    return Effect(mc, mt, estimate, se, estimate - q * se, estimate + q * se, p_value, df,
                  rel, rel_se, rel - q * rel_se, rel + q * rel_se)


def welch_test(control: ArmStats, variant: ArmStats, alpha: float = 0.05) -> Effect:
    """Welch's unequal-variance t test of the difference in means (= scipy ttest_ind equal_var=False)."""
    vc_n, vt_n = control.var / control.n, variant.var / variant.n
    se = np.sqrt(vc_n + vt_n)
    df = (vc_n + vt_n) ** 2 / (vc_n**2 / (np.asarray(control.n) - 1) + vt_n**2 / (np.asarray(variant.n) - 1))
    estimate = variant.mean - control.mean
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * sps.t.sf(np.abs(estimate / se), df)
    return _effect(control.mean, variant.mean, vc_n, vt_n, estimate, se, p, df, alpha)


def proportion_test(control: ArmStats, variant: ArmStats, alpha: float = 0.05) -> Effect:
    """Two-proportion z test for a 0/1 metric.

    The p-value uses the pooled proportion under H0 (= statsmodels ``proportions_ztest``);
    the interval is the unpooled Wald interval (= ``confint_proportions_2indep`` "wald").
    """
    nc, nt = np.asarray(control.n, float), np.asarray(variant.n, float)
    pc, pt = control.mean, variant.mean
    vc_n, vt_n = pc * (1 - pc) / nc, pt * (1 - pt) / nt
    pooled = (np.asarray(control.sum) + np.asarray(variant.sum)) / (nc + nt)
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
    estimate = pt - pc
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * sps.norm.sf(np.abs(estimate / se0))
    p = np.where(se0 > 0, p, 1.0)
    return _effect(pc, pt, vc_n, vt_n, estimate, np.sqrt(vc_n + vt_n), p, np.inf, alpha)


def ratio_test(control: RatioStats, variant: RatioStats, alpha: float = 0.05) -> Effect:
    """Difference of two ratio metrics (e.g. average order value), delta method, z test."""
    vc_n, vt_n = control.var_ratio, variant.var_ratio
    se = np.sqrt(vc_n + vt_n)
    estimate = variant.ratio - control.ratio
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * sps.norm.sf(np.abs(estimate / se))
    return _effect(control.ratio, variant.ratio, vc_n, vt_n, estimate, se, p, np.inf, alpha)


@dataclass(frozen=True)
class CupedEffect:
    """CUPED (regression-adjusted) effect next to the unadjusted one."""

    adjusted: Effect
    unadjusted: Effect
    theta: Array  # coefficient on the pre-period value
    variance_reduction: Array  # 1 - Var(adjusted) / Var(unadjusted)


def cuped_test(control: CupedStats, variant: CupedStats, alpha: float = 0.05, binary: bool = False) -> CupedEffect:
    """Regression-adjusted effect: OLS of y on 1, treatment, x, d over both arms.

    Equals statsmodels ``OLS(y, [1, T, x - mean(x), d - mean(d)])``: treatment coefficient,
    classical SE and t(N - k) p-value, computed from within-arm centred sums (ANCOVA form:
    Var = sigma^2 (1/n_c + 1/n_t + dz' W^-1 dz), well conditioned for large sums).
    Covariates without variation (e.g. nobody has a pre-period) are dropped. The relative
    lift divides the adjusted arm means (each arm's mean moved to the pooled covariate
    mean) by the delta method, as gbstats does.
    """
    unadjusted = (proportion_test if binary else welch_test)(control.y, variant.y, alpha)
    nc, nt = np.asarray(control.n, float), np.asarray(variant.n, float)
    n = nc + nt
    sums = control.sums + variant.sums
    # Within-arm centred cross-products, pooled (the treatment dummy absorbs the arm means,
    # so by Frisch-Waugh the covariate slopes are the within-arm regression slopes).
    within = _centred(control) + _centred(variant)
    cross = control.cross + variant.cross
    cov_idx = [j for j in (1, 2) if np.all(within[..., j, j] > 1e-9 * np.maximum(1.0, cross[..., j, j]))]
    if cov_idx == [1, 2]:
        corr = within[..., 1, 2] / np.sqrt(within[..., 1, 1] * within[..., 2, 2])
        if np.any(np.abs(corr) > 1 - 1e-9):  # x is a multiple of d: the flag adds nothing
            cov_idx = [1]
    shape = np.broadcast(nc, sums[..., 0]).shape
    w_zz = within[..., cov_idx, :][..., :, cov_idx]
    w_zy = within[..., cov_idx, 0]
    gamma = np.linalg.solve(w_zz, w_zy[..., None])[..., 0] if cov_idx else np.zeros(shape + (0,))
    diff_z = variant.sums[..., cov_idx] / np.asarray(nt)[..., None] - control.sums[..., cov_idx] / np.asarray(nc)[..., None]
    estimate = variant.y.mean - control.y.mean - np.einsum("...i,...i->...", gamma, diff_z)
    rss = within[..., 0, 0] - np.einsum("...i,...i->...", gamma, w_zy)
    df = n - 2 - len(cov_idx)
    sigma2 = np.maximum(rss, 0.0) / df
    leverage = np.einsum("...i,...i->...", diff_z, np.linalg.solve(w_zz, diff_z[..., None])[..., 0]) if cov_idx else 0.0
    se = np.sqrt(sigma2 * (1 / nc + 1 / nt + leverage))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * sps.t.sf(np.abs(estimate / se), df)
    keep = [0, *cov_idx]
    # Adjusted arm means: each arm's mean moved to the pooled covariate means.
    pooled_cov = sums[..., cov_idx] / np.asarray(n)[..., None]

    def adjusted_mean(arm: CupedStats) -> Array:
        means = arm.sums[..., cov_idx] / np.asarray(arm.n)[..., None]
        return arm.sums[..., 0] / arm.n - np.einsum("...i,...i->...", gamma, means - pooled_cov)

    def residual_var_n(arm: CupedStats) -> Array:
        # Variance of y - gamma'z within the arm, over the arm's n (gbstats CUPED variance).
        w = np.concatenate([np.ones(shape + (1,)), -gamma], axis=-1)
        an = np.asarray(arm.n, float)
        cov = _centred(arm)[..., keep, :][..., :, keep] / (an - 1)[..., None, None]
        return np.maximum(np.einsum("...i,...ij,...j->...", w, cov, w), 0.0) / an

    adjusted = _effect(adjusted_mean(control), adjusted_mean(variant), residual_var_n(control),
                       residual_var_n(variant), estimate, se, p, df, alpha)
    theta = gamma[..., 0] if 1 in cov_idx else np.zeros(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        reduction = 1 - se**2 / np.asarray(unadjusted.se) ** 2
    return CupedEffect(adjusted, unadjusted, theta, reduction)


def _centred(arm: CupedStats) -> np.ndarray:
    """The arm's cross-products of (y, x, d) around the arm's own means."""
    n = np.asarray(arm.n, float)[..., None, None]
    return arm.cross - arm.sums[..., :, None] * arm.sums[..., None, :] / n


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class SrmResult:
    """Sample-ratio-mismatch chi-square test of observed arm sizes against the planned split."""

    observed: np.ndarray
    expected: np.ndarray
    chi2: float
    df: int
    p_value: float
    failed: bool


def srm_test(observed: list[int] | np.ndarray, planned_shares: list[float] | np.ndarray,
             alpha: float = 0.001) -> SrmResult:
    """Chi-square goodness of fit of arm sizes to the planned shares (= scipy ``chisquare``).

    An arm with zero users is kept (it contributes its whole expected count), so a broken
    arm fails loudly instead of silently dropping out. Shares are normalised to sum to 1.
    """
    obs = np.asarray(observed, dtype=float)
    shares = np.asarray(planned_shares, dtype=float)
    shares = shares / shares.sum()
    total = obs.sum()
    expected = total * shares
    if total == 0:
        return SrmResult(obs, expected, 0.0, len(obs) - 1, 1.0, False)
    chi2 = float(np.sum((obs - expected) ** 2 / expected))
    df = len(obs) - 1
    p = float(sps.chi2.sf(chi2, df))
    return SrmResult(obs, expected, chi2, df, p, p < alpha)


def adjust_pvalues(p_values: list[float] | np.ndarray, method: Literal["holm", "bh"]) -> np.ndarray:
    """Holm (family-wise error) or Benjamini-Hochberg (false discovery rate) adjusted p-values.

    BH is scipy's ``false_discovery_control``; Holm's step-down is written out because scipy
    has none (same results as statsmodels ``multipletests``).
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p
    if method == "bh":
        return sps.false_discovery_control(p, method="bh")
    if method != "holm":
        raise ValueError(f"unknown correction {method!r}: use 'holm' or 'bh'")
    order = np.argsort(p)
    m = p.size
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def corrected_alpha(alpha: float, m: int, method: Literal["holm", "bh"], n_rejected: int = 0) -> float:
    """Per-interval level for m simultaneous intervals.

    Holm: Bonferroni intervals (alpha/m), the intervals compatible with Holm's test.
    BH: false-coverage-rate intervals of Benjamini & Yekutieli (2005), alpha * R / m with
    R the number of BH rejections (alpha/m when nothing is rejected).
    """
    if m <= 1:
        return alpha
    if method == "bh":
        return alpha * max(n_rejected, 1) / m
    return alpha / m


@dataclass(frozen=True)
class Heterogeneity:
    """Cochran's Q test that segment effects differ, with I^2 (share of variation beyond chance)."""

    q: float
    df: int
    p_value: float
    i2: float
    pooled: float


def cochran_q(estimates: np.ndarray | list[float], ses: np.ndarray | list[float]) -> Heterogeneity:
    """Cochran's Q across segment effects with inverse-variance weights."""
    est = np.asarray(estimates, dtype=float)
    w = 1 / np.asarray(ses, dtype=float) ** 2
    ok = np.isfinite(est) & np.isfinite(w) & (w > 0)
    est, w = est[ok], w[ok]
    df = int(est.size - 1)
    if df < 1:
        return Heterogeneity(0.0, 0, 1.0, 0.0, float(est[0]) if est.size else float("nan"))
    pooled = float(np.sum(w * est) / np.sum(w))
    q = float(np.sum(w * (est - pooled) ** 2))
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    return Heterogeneity(q, df, float(sps.chi2.sf(q, df)), i2, pooled)


# --------------------------------------------------------------------------- sequential, Bayes


def sequential_halfwidth(se: Array, n: Array, alpha: float = 0.05,
                         tuning: float = DEFAULT_SEQUENTIAL_TUNING) -> Array:
    """Half-width of the always-valid (anytime) two-sided interval for a two-arm effect.

    Waudby-Smith et al. (2023) eq. 9 as in gbstats: with s2 = se^2 * n the per-observation
    variance and rho from eq. 161, halfwidth = sqrt(s2) sqrt(2(n rho^2 + 1)
    ln(sqrt(n rho^2 + 1)/alpha) / (n rho)^2). The interval covers the true effect at every
    look simultaneously with probability 1 - alpha, so peeking does not inflate errors.
    """
    log_a = np.log(alpha)
    rho2 = (-2 * log_a + np.log(-2 * log_a + 1)) / tuning
    n = np.asarray(n, dtype=float)
    s2 = np.asarray(se) ** 2 * n
    return np.sqrt(s2) * np.sqrt(2 * (n * rho2 + 1) * np.log(np.sqrt(n * rho2 + 1) / alpha) / (n**2 * rho2))


@dataclass(frozen=True)
class Bayesian:
    """Gaussian posterior of the relative effect (flat prior)."""

    chance_to_win: Array
    loss_variant: Array  # expected loss (relative) if the variant is shipped
    loss_control: Array  # expected loss (relative) if control is kept


def bayesian(rel: Array, rel_se: Array, higher_is_better: bool = True) -> Bayesian:
    """Chance to beat control Phi(mean/sd) and expected losses (gbstats Gaussian engine).

    Loss of shipping = E[max(0, -delta)] = sd phi(mu/sd) - mu Phi(-mu/sd); loss of keeping
    control = E[max(0, delta)] = sd phi(mu/sd) + mu Phi(mu/sd), with delta oriented so that
    positive is good.
    """
    mu = np.asarray(rel, dtype=float) * (1 if higher_is_better else -1)
    sd = np.asarray(rel_se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = mu / sd
    pdf = sps.norm.pdf(z)
    return Bayesian(sps.norm.cdf(z), sd * pdf - mu * sps.norm.cdf(-z), sd * pdf + mu * sps.norm.cdf(z))


# --------------------------------------------------------------------------- power


def mde(var_control: float, var_variant: float, n_control: float, n_variant: float,
        alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable absolute effect of a two-sided z test at the given power."""
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    return float(z * np.sqrt(var_control / n_control + var_variant / n_variant))


def power_at(effect: float, se: float, alpha: float = 0.05) -> float:
    """Power of the two-sided z test to detect an absolute ``effect`` given its SE."""
    z = sps.norm.ppf(1 - alpha / 2)
    shift = abs(effect) / se
    return float(sps.norm.sf(z - shift) + sps.norm.cdf(-z - shift))


def sample_size(sd: float, abs_mde: float, alpha: float = 0.05, power: float = 0.8,
                ratio: float = 1.0) -> float:
    """Control-arm users needed to detect ``abs_mde`` (variant arm = ``ratio`` x control).

    Solves the exact two-sided power equation (both tails), as statsmodels
    ``NormalIndPower().solve_power(effect_size=abs_mde/sd, ratio=ratio)`` does.
    """
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    guess = (z * sd / abs_mde) ** 2 * (1 + 1 / ratio)

    def gap(n: float) -> float:
        return power_at(abs_mde, sd * np.sqrt(1 / n + 1 / (ratio * n)), alpha) - power

    return float(brentq(gap, guess * 0.5, guess * 1.5, xtol=1e-10, rtol=1e-14))
