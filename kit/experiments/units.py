"""Experiment analysis on a table of units (one row per user, account or store), for an
analyst who already has each unit's variant and outcome in a DataFrame (kit.frames).

The same statistics as the readout of the catalogued experiments (kit.experiments.readout):
each treatment against control, Welch's t test (two-proportion test for a 0/1 metric),
CUPED when a pre-period ``covariate`` is given (a unit without a pre-period value gets its
own intercept, as in the readout), the delta method for a ratio metric (``denominator``),
p-values and intervals corrected over the treatments (Holm or Benjamini-Hochberg), the
Bayesian chance to win and the minimum detectable effect; with ``planned`` shares the
sample-ratio check; and the same ship / do-not-ship decision, the metric as the primary.
Units with a missing outcome are left out of the effects and counted in ``missing``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.experiments import stats as st
from kit.experiments.decision import Decision, decide
from kit.experiments.readout import Settings, compare, corrected

MIN_UNITS = 3  # per arm, as the readout asks of an overall comparison
# the columns an analyst reads first, in this order; the readout's other columns follow
FIRST = ("variant", "n_control", "n_variant", "control_mean", "variant_mean", "effect", "ci_low", "ci_high", "rel",
         "rel_ci_low", "rel_ci_high", "p_value", "p_adj", "significant", "chance_to_win", "rel_mde")


@dataclass(frozen=True)
class UnitsReadout:
    """One metric read out on a table of units.

    ``results``: one row per treatment with variant, n_control, n_variant, control_mean,
    variant_mean, effect (absolute), ci_low, ci_high, rel (relative lift), rel_ci_low,
    rel_ci_high, p_value, p_adj (corrected), significant, chance_to_win, mde_abs, rel_mde,
    cuped, variance_reduction and the unadjusted raw_* figures. ``srm`` is None without
    planned shares. ``assigned``: units per variant; ``missing``: units without an outcome.
    """

    metric: str
    control: str
    results: pd.DataFrame
    decision: Decision
    assigned: dict[str, int]
    missing: int
    srm: st.SrmResult | None = None


def _numbers(values: pd.Series, name: str) -> np.ndarray:
    """``values`` as floats; a clear error naming column ``name`` when they are not numbers."""
    try:
        return pd.to_numeric(values, errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {name!r} must hold numbers: {exc}") from exc


def _arm(part: pd.DataFrame, metric: str, covariate: str | None, denominator: str | None
         ) -> st.CupedStats | st.RatioStats:
    """The sufficient statistics of one arm's units."""
    y = _numbers(part[metric], metric)
    if denominator is not None:
        return st.RatioStats.from_values(y, _numbers(part[denominator], denominator))
    x = np.zeros_like(y) if covariate is None else _numbers(part[covariate], covariate)
    has_pre = ~np.isnan(x)
    return st.CupedStats.from_values(y, np.where(has_pre, x, 0.0), has_pre.astype(float))


def analyse_units(units: pd.DataFrame, metric: str, variant: str, control: str, *,
                  covariate: str | None = None, denominator: str | None = None, higher_is_better: bool = True,
                  planned: dict[str, float] | None = None, settings: Settings | None = None) -> UnitsReadout:
    """Read out ``metric`` per value of column ``variant`` against arm ``control`` (module
    docstring). ``units`` must hold the named columns (kit.frames checks them first)."""
    settings = settings or Settings()
    arms = units[variant].astype("str")
    assigned = {str(k): int(v) for k, v in arms.value_counts(sort=False).sort_index().items()}
    if control not in assigned:
        raise ValueError(f"control arm {control!r} is not a value of column {variant!r} (values: {', '.join(assigned)})")
    if len(assigned) < 2:
        raise ValueError(f"column {variant!r} holds only the control arm {control!r}: nothing to compare it with")
    outcome = units[metric].notna() & (units[denominator].notna() if denominator else True)
    measured = units[outcome.to_numpy()]
    by_arm = {str(name): part for name, part in measured.groupby(arms[outcome.to_numpy()], sort=True)}
    small = {name: len(by_arm.get(name, ())) for name in assigned if len(by_arm.get(name, ())) < MIN_UNITS}
    if small:
        raise ValueError(
            f"too few units with a {metric!r} value to compare: "
            + ", ".join(f"{name} has {n}" for name, n in small.items()) + f" (at least {MIN_UNITS} per arm)"
        )
    values = _numbers(measured[metric], metric)
    binary = denominator is None and bool(np.isin(values, (0.0, 1.0)).all())
    stats = {name: _arm(part, metric, covariate, denominator) for name, part in by_arm.items()}
    rows = [
        {"metric": metric, "role": "primary", "variant": name, "direction": 1 if higher_is_better else -1,
         **compare(stats[control], arm, binary, settings.alpha, cuped=covariate is not None)}
        for name, arm in stats.items() if name != control
    ]
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero control mean has no relative lift
        results = corrected(pd.DataFrame(rows), settings, early=False)
    results = results[[*FIRST, *(c for c in results.columns if c not in FIRST)]]
    srm = None
    if planned is not None:
        unknown = sorted(set(planned) - set(assigned))
        if unknown:
            raise ValueError(f"planned shares name arm(s) {', '.join(unknown)} that column {variant!r} does not hold")
        srm = st.srm_test([assigned.get(name, 0) for name in planned], list(planned.values()), settings.srm_alpha)
    decision = decide(results, bool(srm and srm.failed), [], early=False)
    return UnitsReadout(metric, control, results, decision, assigned, int((~outcome).sum()), srm)
