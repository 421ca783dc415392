"""kit.experiments.stats against independent implementations (statsmodels / scipy) to 1e-6,
plus vectorised A/A simulations for false-positive rate and interval coverage."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import integrate
from scipy import stats as sps
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from kit.experiments import stats as st

TOL = 1e-6


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


def test_welch_matches_scipy_and_statsmodels(rng):
    a = rng.gamma(2.0, 50.0, 1800)
    b = rng.gamma(2.2, 52.0, 2300)
    eff = st.welch_test(st.ArmStats.from_values(a), st.ArmStats.from_values(b))
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert eff.estimate / eff.se == pytest.approx(ref.statistic, abs=TOL)
    assert eff.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert eff.df == pytest.approx(ref.df, rel=TOL)
    lo, hi = ref.confidence_interval(0.95)
    assert (eff.ci_low, eff.ci_high) == (pytest.approx(lo, abs=TOL), pytest.approx(hi, abs=TOL))
    from statsmodels.stats.weightstats import ttest_ind
    t, p, _ = ttest_ind(b, a, usevar="unequal")
    assert eff.p_value == pytest.approx(p, abs=TOL)


def test_proportion_matches_statsmodels(rng):
    a = (rng.random(3000) < 0.20).astype(float)
    b = (rng.random(2500) < 0.23).astype(float)
    eff = st.proportion_test(st.ArmStats.from_values(a), st.ArmStats.from_values(b))
    z, p = proportions_ztest([b.sum(), a.sum()], [b.size, a.size])
    assert eff.p_value == pytest.approx(p, abs=TOL)
    lo, hi = confint_proportions_2indep(b.sum(), b.size, a.sum(), a.size, method="wald", compare="diff")
    assert eff.ci_low == pytest.approx(lo, abs=TOL)
    assert eff.ci_high == pytest.approx(hi, abs=TOL)
    assert eff.estimate == pytest.approx(b.mean() - a.mean(), abs=1e-12)


def test_relative_lift_delta_method(rng):
    """gbstats' delta-method variance, checked against a direct linearisation."""
    a = rng.gamma(2.0, 50.0, 5000)
    b = rng.gamma(2.0, 55.0, 5000)
    eff = st.welch_test(st.ArmStats.from_values(a), st.ArmStats.from_values(b))
    ma, mb = a.mean(), b.mean()
    grad_var = (1 / ma) ** 2 * b.var(ddof=1) / b.size + (mb / ma**2) ** 2 * a.var(ddof=1) / a.size
    assert eff.rel == pytest.approx(mb / ma - 1, abs=1e-12)
    assert eff.rel_se == pytest.approx(np.sqrt(grad_var), rel=TOL)


def test_ratio_metric_delta_method_matches_linearisation(rng):
    n = 4000
    orders = rng.poisson(1.2, n).astype(float)
    revenue = orders * rng.gamma(3.0, 40.0, n)
    rs = st.RatioStats.from_values(revenue, orders)
    r = revenue.sum() / orders.sum()
    lin = (revenue - r * orders) / orders.mean()  # influence function of the ratio
    assert rs.ratio == pytest.approx(r, abs=1e-12)
    assert rs.var_ratio == pytest.approx(lin.var(ddof=1) / n, rel=TOL)
    # Bootstrap agrees to within simulation error.
    idx = rng.integers(0, n, (400, n))
    boot = revenue[idx].sum(1) / orders[idx].sum(1)
    assert np.sqrt(rs.var_ratio) == pytest.approx(boot.std(), rel=0.15)


def _ols_reference(yc, xc, dc, yt, xt, dt):
    y = np.concatenate([yc, yt])
    x = np.concatenate([xc, xt])
    d = np.concatenate([dc, dt])
    treat = np.concatenate([np.zeros(yc.size), np.ones(yt.size)])
    design = np.column_stack([np.ones_like(y), treat, x - x.mean(), d - d.mean()])
    return sm.OLS(y, design).fit()


def _cuped_data(rng, n, effect=0.0, no_pre_share=0.2):
    d = (rng.random(n) > no_pre_share).astype(float)
    x = np.where(d == 1, rng.gamma(2.0, 30.0, n), 0.0)
    y = 10 + 0.6 * x + 8 * d + rng.normal(0, 25, n) + effect
    return y, x, d


def test_cuped_matches_statsmodels_ols(rng):
    yc, xc, dc = _cuped_data(rng, 2000)
    yt, xt, dt = _cuped_data(rng, 2600, effect=3.0)
    res = st.cuped_test(st.CupedStats.from_values(yc, xc, dc), st.CupedStats.from_values(yt, xt, dt))
    ref = _ols_reference(yc, xc, dc, yt, xt, dt)
    assert res.adjusted.estimate == pytest.approx(ref.params[1], abs=TOL)
    assert res.adjusted.se == pytest.approx(ref.bse[1], abs=TOL)
    assert res.adjusted.p_value == pytest.approx(ref.pvalues[1], abs=TOL)
    lo, hi = ref.conf_int()[1]
    assert res.adjusted.ci_low == pytest.approx(lo, abs=TOL)
    assert res.adjusted.ci_high == pytest.approx(hi, abs=TOL)
    assert res.theta == pytest.approx(ref.params[2], abs=TOL)
    assert 0.3 < res.variance_reduction < 0.9


def test_cuped_drops_constant_indicator(rng):
    """Everyone has a pre-period: the indicator is constant and must be dropped, not crash."""
    yc, xc, _ = _cuped_data(rng, 1500, no_pre_share=0.0)
    yt, xt, _ = _cuped_data(rng, 1500, effect=2.0, no_pre_share=0.0)
    ones_c, ones_t = np.ones(yc.size), np.ones(yt.size)
    res = st.cuped_test(st.CupedStats.from_values(yc, xc, ones_c), st.CupedStats.from_values(yt, xt, ones_t))
    y = np.concatenate([yc, yt])
    x = np.concatenate([xc, xt])
    treat = np.r_[np.zeros(yc.size), np.ones(yt.size)]
    ref = sm.OLS(y, np.column_stack([np.ones_like(y), treat, x - x.mean()])).fit()
    assert res.adjusted.estimate == pytest.approx(ref.params[1], abs=TOL)
    assert res.adjusted.se == pytest.approx(ref.bse[1], abs=TOL)


def test_srm_matches_scipy_including_zero_arm():
    obs = [5000, 5100, 0]
    res = st.srm_test(obs, [1 / 3, 1 / 3, 1 / 3])
    ref = sps.chisquare(obs, f_exp=np.array([1 / 3] * 3) * sum(obs))
    assert res.chi2 == pytest.approx(ref.statistic, abs=TOL)
    assert res.p_value == pytest.approx(ref.pvalue, abs=TOL)
    assert res.failed
    ok = st.srm_test([5020, 4980], [0.5, 0.5])
    assert not ok.failed
    assert ok.p_value == pytest.approx(sps.chisquare([5020, 4980]).pvalue, abs=TOL)


@pytest.mark.parametrize(("method", "sm_method"), [("holm", "holm"), ("bh", "fdr_bh")])
def test_adjust_pvalues_matches_multipletests(method, sm_method, rng):
    p = np.r_[rng.random(12) * 0.1, 0.001, 0.04, 0.9]
    ref = multipletests(p, alpha=0.05, method=sm_method)[1]
    np.testing.assert_allclose(st.adjust_pvalues(p, method), ref, atol=TOL)


def test_cochran_q_matches_statsmodels():
    est = np.array([0.08, 0.02, 0.0, -0.01])
    se = np.array([0.02, 0.015, 0.01, 0.03])
    res = st.cochran_q(est, se)
    ref = combine_effects(est, se**2)
    assert res.q == pytest.approx(ref.q, abs=TOL)
    assert res.p_value == pytest.approx(sps.chi2.sf(ref.q, 3), abs=TOL)
    assert res.i2 == pytest.approx(ref.i2, abs=TOL)
    assert res.pooled == pytest.approx(ref.mean_effect_fe, abs=TOL)


def test_bayesian_matches_numerical_integration():
    mu, sd = 0.012, 0.009
    b = st.bayesian(mu, sd)
    assert b.chance_to_win == pytest.approx(sps.norm.sf(0, mu, sd), abs=TOL)
    loss_ship = integrate.quad(lambda d: -d * sps.norm.pdf(d, mu, sd), -np.inf, 0)[0]
    loss_keep = integrate.quad(lambda d: d * sps.norm.pdf(d, mu, sd), 0, np.inf)[0]
    assert b.loss_variant == pytest.approx(loss_ship, abs=TOL)
    assert b.loss_control == pytest.approx(loss_keep, abs=TOL)
    flipped = st.bayesian(mu, sd, higher_is_better=False)
    assert flipped.chance_to_win == pytest.approx(1 - b.chance_to_win, abs=TOL)


def test_power_and_sample_size_match_statsmodels():
    sd, abs_mde = 40.0, 2.5
    n = st.sample_size(sd, abs_mde, alpha=0.05, power=0.8, ratio=1.5)
    ref = NormalIndPower().solve_power(effect_size=abs_mde / sd, alpha=0.05, power=0.8, ratio=1.5)
    assert n == pytest.approx(ref, rel=TOL)
    pw = st.power_at(abs_mde, sd * np.sqrt(1 / 3000 + 1 / 4500))
    ref_pw = NormalIndPower().power(effect_size=abs_mde / sd, nobs1=3000, alpha=0.05, ratio=1.5)
    assert pw == pytest.approx(ref_pw, abs=TOL)
    m = st.mde(sd**2, sd**2, 3000, 4500, power=0.8)
    assert st.power_at(m, sd * np.sqrt(1 / 3000 + 1 / 4500)) == pytest.approx(0.8, abs=1e-3)


def test_sequential_interval_is_wider_and_shrinks():
    hw_fixed = sps.norm.ppf(0.975) * 1.0
    hw = st.sequential_halfwidth(1.0, 5000)
    assert hw > hw_fixed
    assert st.sequential_halfwidth(1.0 / np.sqrt(4), 20000) < hw


# --------------------------------------------------------------------------- simulations

N_SIMS = 10_000  # Monte Carlo SE of a 5% rate: 0.22 pp, so [4%, 6%] is +-4.5 SE


def test_aa_false_positive_rate_and_coverage_welch():
    rng = np.random.default_rng(1)
    a = rng.gamma(0.5, 80.0, (N_SIMS, 600))
    b = rng.gamma(0.5, 80.0, (N_SIMS, 600))
    eff = st.welch_test(st.ArmStats.from_values(a), st.ArmStats.from_values(b))
    fpr = np.mean(eff.p_value < 0.05)
    cover = np.mean((eff.ci_low <= 0) & (eff.ci_high >= 0))
    assert 0.04 <= fpr <= 0.06
    assert 0.94 <= cover <= 0.96


def test_aa_false_positive_rate_proportions_and_coverage_with_effect():
    rng = np.random.default_rng(2)
    a = (rng.random((N_SIMS, 1000)) < 0.2).astype(float)
    b = (rng.random((N_SIMS, 1000)) < 0.2).astype(float)
    eff = st.proportion_test(st.ArmStats.from_values(a), st.ArmStats.from_values(b))
    assert 0.04 <= np.mean(eff.p_value < 0.05) <= 0.06
    c = (rng.random((N_SIMS, 1000)) < 0.23).astype(float)
    eff2 = st.proportion_test(st.ArmStats.from_values(a), st.ArmStats.from_values(c))
    assert 0.94 <= np.mean((eff2.ci_low <= 0.03) & (eff2.ci_high >= 0.03)) <= 0.96


def test_aa_cuped_false_positive_rate_and_coverage():
    rng = np.random.default_rng(3)
    shape = (N_SIMS, 400)

    def arm(effect):
        d = (rng.random(shape) > 0.25).astype(float)
        x = np.where(d == 1, rng.gamma(2.0, 30.0, shape), 0.0)
        y = 10 + 0.6 * x + 8 * d + rng.normal(0, 25, shape) + effect
        return st.CupedStats.from_values(y, x, d)

    control = arm(0.0)
    res = st.cuped_test(control, arm(0.0))
    assert 0.04 <= np.mean(res.adjusted.p_value < 0.05) <= 0.06
    assert 0.94 <= np.mean((res.adjusted.ci_low <= 0) & (res.adjusted.ci_high >= 0)) <= 0.96
    shifted = st.cuped_test(control, arm(2.0))
    assert 0.94 <= np.mean((shifted.adjusted.ci_low <= 2) & (shifted.adjusted.ci_high >= 2)) <= 0.96
    assert np.median(res.variance_reduction) > 0.3


def test_sequential_interval_controls_error_over_repeated_looks():
    """Peeking 20 times: the fixed interval excludes 0 too often, the always-valid one does not."""
    rng = np.random.default_rng(4)
    looks = np.arange(1, 21) * 250
    x = rng.normal(0, 1, (2000, looks[-1]))
    y = rng.normal(0, 1, (2000, looks[-1]))
    cx, cy = np.cumsum(x, 1)[:, looks - 1], np.cumsum(y, 1)[:, looks - 1]
    est = cy / looks - cx / looks
    se = np.sqrt(2 / looks)
    fixed_any = np.any(np.abs(est) > 1.96 * se, axis=1).mean()
    seq_any = np.any(np.abs(est) > st.sequential_halfwidth(se, 2 * looks), axis=1).mean()
    assert fixed_any > 0.1
    assert seq_any <= 0.05


def test_aa_ratio_metric_and_relative_lift_coverage():
    """Delta-method ratio (AOV-like) A/A false positives, and relative-lift coverage under a 5% lift."""
    rng = np.random.default_rng(5)
    shape = (N_SIMS, 500)

    def arm(scale):
        orders = rng.poisson(1.0, shape).astype(float)
        revenue = orders * rng.gamma(2.0, 50.0 * scale, shape)
        return st.RatioStats.from_values(revenue, orders)

    control = arm(1.0)
    aa = st.ratio_test(control, arm(1.0))
    assert 0.04 <= np.mean(aa.p_value < 0.05) <= 0.06
    lifted = st.welch_test(st.ArmStats.from_values(rng.gamma(2.0, 50.0, shape)),
                           st.ArmStats.from_values(rng.gamma(2.0, 55.0, shape)))
    assert 0.94 <= np.mean((lifted.rel_ci_low <= 0.10) & (lifted.rel_ci_high >= 0.10)) <= 0.96
