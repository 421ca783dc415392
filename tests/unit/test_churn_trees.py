"""``kit.churn.trees`` against scikit-learn's own predictions of the same booster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from kit.churn import trees


def _booster(seed: int) -> tuple[HistGradientBoostingClassifier, pd.DataFrame]:
    """A booster on numeric features with missing values and a categorical feature, and
    fresh rows that include missing and never-seen categories."""
    rng = np.random.default_rng(seed)
    n = 4000
    frame = pd.DataFrame(
        {
            "recency": rng.exponential(60, n),
            "visits": rng.poisson(3, n).astype(float),
            "nps": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 11, n)),
            "channel": pd.Categorical(rng.choice(["app", "store", "web", "mini"], n)),
        }
    )
    logit = 0.02 * frame["recency"] - 0.4 * frame["visits"] - 0.2 * frame["nps"].fillna(5)
    logit += (frame["channel"] == "store") - 0.5
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    booster = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=15, random_state=seed)
    booster.fit(frame, y)
    fresh = frame.sample(500, random_state=seed).reset_index(drop=True)
    fresh.loc[:40, "recency"] = np.nan  # missing where training had none
    levels = ["app", "store", "web", "mini", "kiosk"]  # "kiosk" never seen in training
    fresh["channel"] = pd.Categorical(np.where(np.arange(500) % 7 == 0, "kiosk", fresh["channel"].astype(str)), levels)
    fresh.loc[50:60, "channel"] = np.nan
    return booster, fresh


@pytest.mark.parametrize("seed", [0, 1])
def test_scores_equal_decision_function(seed: int) -> None:
    booster, fresh = _booster(seed)
    x = booster._preprocess_X(fresh, reset=False)
    raw, change = trees.score_and_occlude(trees.flatten(booster), x, np.array([], dtype=np.int64), np.array([]))
    np.testing.assert_allclose(raw, booster.decision_function(fresh), rtol=0, atol=1e-12)
    assert change.shape == (len(fresh), 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_occlusions_equal_re_predicting_the_whole_model(seed: int) -> None:
    booster, fresh = _booster(seed)
    x = booster._preprocess_X(fresh, reset=False)
    # the preprocessed matrix puts the categorical column first
    position = {"channel": 0, "recency": 1, "visits": 2, "nps": 3}
    typical = {"recency": 30.0, "visits": np.nan, "nps": 7.0, "channel": "store"}
    columns = np.array([position[f] for f in typical], dtype=np.int64)
    store = fresh.iloc[:1].assign(channel=pd.Categorical(["store"], categories=fresh["channel"].cat.categories))
    values = np.array([30.0, np.nan, 7.0, booster._preprocess_X(store, reset=False)[0, 0]])
    raw, change = trees.score_and_occlude(trees.flatten(booster), x, columns, values)
    base = booster.decision_function(fresh)
    for j, (feature, value) in enumerate(typical.items()):
        if feature == "channel":
            replaced = fresh.assign(channel=pd.Categorical([value] * len(fresh), categories=fresh["channel"].cat.categories))
        else:
            replaced = fresh.assign(**{feature: value})
        np.testing.assert_allclose(change[:, j], booster.decision_function(replaced) - base, rtol=0, atol=1e-10)
    assert (np.abs(change) > 1e-6).any(axis=0).all()  # every driver moves some rows


def test_flatten_refuses_a_multiclass_booster() -> None:
    rng = np.random.default_rng(0)
    booster = HistGradientBoostingClassifier(max_iter=3).fit(rng.normal(size=(300, 2)), rng.integers(0, 3, 300))
    with pytest.raises(ValueError, match="binary"):
        trees.flatten(booster)
    with pytest.raises(ValueError, match="binary"):
        trees.flatten(HistGradientBoostingClassifier())
