"""kit.clv models: published CDNOW estimates, an independent likelihood, parameter recovery
and predictions checked against simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy.special import gammaln, hyp2f1

from kit.clv.base import ClvFitError, Estimates
from kit.clv.bgnbd import BetaGeoModel
from kit.clv.gammagamma import GammaGammaModel, MeanSpendModel, fit_spend, independence_check
from kit.clv.mbgnbd import ModifiedBetaGeoModel
from kit.clv.paretonbd import ParetoNBDModel, hyp2f1_one
from kit.clv.simulate import simulate_histories

CDNOW = Path(__file__).parents[1] / "fixtures" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW)


def sig3(value: float) -> float:
    """``value`` rounded to 3 significant digits."""
    return float(f"{value:.3g}")


@pytest.mark.parametrize(
    ("model", "published", "loglik"),
    [
        (BetaGeoModel, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
        (ParetoNBDModel, {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}, -9595.0),
    ],
)
def test_cdnow_fit_matches_published(cdnow, model, published, loglik):
    fit = model().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    for name, value in published.items():
        assert sig3(fit.params_[name]) == sig3(value), name
    assert fit.log_likelihood_ == pytest.approx(loglik, abs=0.05)


def test_cdnow_gamma_gamma_matches_published(cdnow):
    fit = GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert sig3(fit.params_[name]) == sig3(value), name
    check = independence_check(cdnow["x"], cdnow["zbar"])
    assert check.n == 946 and check.ok  # FHL 2005 report a correlation of 0.11
    assert check.pearson == pytest.approx(0.11, abs=0.01)
    # spend of a one-time buyer is the population mean p v / (q - 1)
    assert fit.conditional_expected_spend([0], [0])[0] == pytest.approx(fit.population_mean_spend())


@pytest.mark.parametrize(("model", "expected"), [(BetaGeoModel, 1653.42), (ParetoNBDModel, 1665.55)])
def test_cdnow_holdout_prediction_matches_lifetimes(cdnow, model, expected):
    # sums of conditional expectations for weeks 40-78 computed with lifetimes 0.11.3 (an
    # independent implementation); 1,882 repeat purchases actually happened
    fit = model().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    total = fit.conditional_expected_purchases(39, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert total == pytest.approx(expected, abs=0.05)


def test_weights_equal_repeated_rows(cdnow):
    head = cdnow.iloc[:400]
    doubled = pd.concat([head, head])
    a = BetaGeoModel().fit(doubled["x"], doubled["t_x"], doubled["T"])
    b = BetaGeoModel().fit(head["x"], head["t_x"], head["T"], weights=np.full(len(head), 2.0))
    assert a.params_ == pytest.approx(b.params_, rel=1e-6)


def test_cdnow_mbgnbd_matches_lifetimes(cdnow):
    # no published MBG/NBD fit on CDNOW: lifetimes 0.11.3 (independent code) gives these
    fit = ModifiedBetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    expected = {"r": 0.524838, "alpha": 6.182988, "a": 0.891356, "b": 1.614000}
    assert fit.params_ == pytest.approx(expected, rel=2e-4)


def test_hyp2f1_one_matches_scipy_in_every_regime():
    rng = np.random.default_rng(0)
    b = rng.uniform(0.05, 40, 3000)
    c = b + rng.uniform(0.05, 5, 3000)
    z = rng.uniform(0, 0.999, 3000)
    assert np.allclose(hyp2f1_one(b, c, z), hyp2f1(1.0, b, c, z), rtol=1e-6)


def _with_params(model, params: dict[str, float]):
    """A model object carrying given parameters (to test predictions without fitting)."""
    values = np.array([params[k] for k in model.param_names])
    model.estimates_ = Estimates(model.param_names, values, np.zeros(len(values)), 0.0, 0.0)
    return model


TRUTH = {
    BetaGeoModel: {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5},
    ModifiedBetaGeoModel: {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 2.5},
    ParetoNBDModel: {"r": 0.6, "alpha": 8.0, "s": 0.7, "beta": 10.0},
}


@pytest.mark.parametrize("cls", list(TRUTH))
def test_parameter_recovery_within_three_standard_errors(cls):
    truth = TRUTH[cls]
    T = np.random.default_rng(11).uniform(20, 80, 4000)
    history = simulate_histories(cls.name, truth, T, seed=12)
    fit = cls().fit(history["frequency"], history["recency"], history["T"])
    table = fit.confidence_intervals()
    z = np.log(table["estimate"] / pd.Series(truth)) / (table["std_error"] / table["estimate"])
    assert (z.abs() < 3).all(), table.assign(z=z)
    assert (table["lower"] < pd.Series(truth)).sum() >= 3  # 95% intervals mostly cover the truth


@pytest.mark.parametrize("cls", list(TRUTH))
def test_predictions_match_simulated_future(cls):
    truth = TRUTH[cls]
    model = _with_params(cls(), truth)
    T = np.random.default_rng(5).uniform(20, 80, 20000)
    sim = simulate_histories(cls.name, truth, T, holdout=26.0, seed=6)
    f, r, age = sim["frequency"], sim["recency"], sim["T"]
    predicted = model.conditional_expected_purchases(26.0, f, r, age)
    assert predicted.sum() / sim["frequency_holdout"].sum() == pytest.approx(1, abs=0.04)
    assert model.p_alive(f, r, age).mean() == pytest.approx(sim["alive"].mean(), abs=0.015)
    fresh = simulate_histories(cls.name, truth, 30.0, n=20000, seed=7)
    assert float(model.expected_purchases(30.0)) == pytest.approx(fresh["frequency"].mean(), rel=0.04)


def test_p_alive_properties():
    model = _with_params(BetaGeoModel(), TRUTH[BetaGeoModel])
    # BG/NBD: a customer who never came back is alive; a long silence lowers P(alive)
    assert model.p_alive([0], [0], [50])[0] == 1.0
    assert model.p_alive([5], [10], [50])[0] < model.p_alive([5], [45], [50])[0]
    mbg = _with_params(ModifiedBetaGeoModel(), TRUTH[ModifiedBetaGeoModel])
    assert mbg.p_alive([0], [0], [50])[0] < 1.0


def test_gamma_gamma_recovery():
    rng = np.random.default_rng(3)
    n = 4000
    x = rng.integers(1, 15, n)
    nu = rng.gamma(4.0, 1 / 60.0, n)
    mean_spend = np.array([rng.gamma(6.0 * k, 1 / nu_i) / k for k, nu_i in zip(x, nu)])
    fit = GammaGammaModel().fit(x, mean_spend)
    table = fit.confidence_intervals()
    z = np.log(table["estimate"] / pd.Series({"p": 6.0, "q": 4.0, "v": 60.0})) / (table["std_error"] / table["estimate"])
    assert (z.abs() < 3).all(), table


def test_clear_errors():
    with pytest.raises(ValueError, match="recency < 0 or recency > T"):
        BetaGeoModel().fit([1, 2], [5.0, 1.0], [4.0, 3.0])
    with pytest.raises(ValueError, match="frequency 0 but recency > 0"):
        BetaGeoModel().fit([0], [1.0], [4.0])
    with pytest.raises(ClvFitError, match="nobody made a repeat purchase"):
        BetaGeoModel().fit([0, 0], [0.0, 0.0], [4.0, 3.0])
    with pytest.raises(ClvFitError, match="repeat buyers"):
        GammaGammaModel().fit([1, 0], [10.0, 0.0])
    with pytest.raises(RuntimeError, match="fit"):
        BetaGeoModel().p_alive([1], [1], [2])


def _nbd_maximum(n: np.ndarray, T: np.ndarray) -> tuple[float, np.ndarray]:
    """Maximum log-likelihood and (r, alpha) of the gamma-Poisson (NBD) model: BG/NBD with
    no dropout at all, fitted independently of kit.clv."""

    def negll(theta: np.ndarray) -> float:
        r, alpha = np.exp(theta)
        return -float(np.sum(gammaln(r + n) - gammaln(r) + r * np.log(alpha) - (r + n) * np.log(alpha + T)))

    res = optimize.minimize(negll, np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 5000})
    return -res.fun, np.exp(res.x)


def test_no_dropout_data_flags_the_bound_parameter():
    # pure Poisson buyers: the dropout parameters (a, b) are not identified, only that the
    # mean dropout a / (a + b) is ~0. Which of a and b the optimiser pushes to its bound
    # depends on its path (and on the installed scipy); what is identified does not: the
    # purchase parameters, the likelihood (that of the no-dropout NBD model) and p_alive.
    rng = np.random.default_rng(2)
    T = rng.uniform(10, 60, 3000)
    lam = rng.gamma(1.0, 1 / 4.0, 3000)
    n = rng.poisson(lam * T)
    recency = np.where(n > 0, T * rng.beta(np.maximum(n, 1), 1), 0.0)
    fit = BetaGeoModel().fit(n, recency, T)
    est = fit.estimates_
    params = est.as_dict()
    assert "a" in est.at_bound and set(est.at_bound) <= {"a", "b"}, est.at_bound
    assert params["a"] / (params["a"] + params["b"]) < 1e-6
    nbd_loglik, (r, alpha) = _nbd_maximum(n, T)
    assert est.log_likelihood == pytest.approx(nbd_loglik, abs=1e-3)
    assert (params["r"], params["alpha"]) == pytest.approx((r, alpha), rel=1e-4)
    intervals = fit.confidence_intervals()
    assert intervals.loc[list(est.at_bound), "std_error"].isna().all()
    assert intervals.loc[["r", "alpha"], "std_error"].notna().all()
    assert fit.p_alive([3], [5.0], [50.0])[0] == pytest.approx(1.0, abs=1e-4)


def test_fit_spend_falls_back_to_averages_without_spread():
    """Gamma-Gamma needs spread in spend per order; with one fee per customer (and with too few
    repeat buyers) fit_spend uses each customer's average, the population's without repeats."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 8, 500).astype(float)
    fee = rng.choice([9.9, 29.0, 79.0], 500)
    spend = fit_spend(x, np.where(x > 0, fee, 0.0))
    assert isinstance(spend, MeanSpendModel)
    expected = spend.conditional_expected_spend([0, 3], [0.0, 29.0])
    assert expected[1] == 29.0 and expected[0] == pytest.approx(np.average(fee[x > 0], weights=x[x > 0]))
    assert isinstance(fit_spend([1, 2, 0], [10.0, 12.0, 0.0]), MeanSpendModel)  # 2 repeat buyers
    assert independence_check([1, 2, 3, 4], [10.0, 10.0, 10.0, 10.0]) is None
    with pytest.raises(ClvFitError, match="no repeat buyer"):
        MeanSpendModel().fit([0, 0], [0.0, 0.0])
