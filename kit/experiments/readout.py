"""Read out one experiment: metrics, checks, effects, segments, power and the decision.

``read_out`` fetches the per-user metrics from the warehouse and reduces them to
sufficient statistics in DuckDB; ``analyse`` turns those statistics into the readout, so
the same code serves the notebook, the benchmark (synthetic statistics) and the tests.

Estimator per metric: mean metrics use CUPED (OLS on the pre-period value and a
has-pre-period flag, see kit.experiments.stats) with the unadjusted Welch / two-proportion
result beside it; the ratio metric (average order value) uses the delta method without
CUPED. Every treatment is compared with control; p-values are corrected across the
treatments of each metric (Holm or Benjamini-Hochberg, ``experiments.correction``) and
intervals are widened to match. Read before the planned end (the experiment's last day), a
result only counts as significant when its always-valid interval excludes zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from kit.core.config import KitConfig
from kit.core.dates import snapshot_end
from kit.core.warehouse import Warehouse
from kit.experiments import stats as st
from kit.experiments.catalog import Experiment, load_catalog
from kit.experiments.decision import Decision, decide
from kit.experiments.metrics import (
    BINARY_METRICS,
    LOWER_IS_BETTER,
    RATIO_METRICS,
    STAT_COLUMNS,
    sufficient_stats,
    user_metrics,
    winsor_caps,
)

#: Fewest users per arm for a segment to get an estimate.
MIN_SEGMENT_USERS = 30


@dataclass(frozen=True)
class Settings:
    """Statistical settings of a readout (from ``experiments`` in the config)."""

    alpha: float = 0.05
    correction: str = "holm"
    srm_alpha: float = 0.001
    sequential_tuning: float = st.DEFAULT_SEQUENTIAL_TUNING
    power: float = 0.8
    winsorize_quantile: float = 0.99

    @classmethod
    def from_config(cls, config: KitConfig) -> "Settings":
        e = config.experiments
        return cls(e.alpha, e.correction, e.srm_alpha, e.sequential_tuning, e.power, e.winsorize_quantile)


@dataclass(frozen=True)
class Readout:
    """Everything the notebook shows for one experiment (tables are pandas, one row per item).

    ``results``: one row per metric x treatment (columns documented in ``compare``).
    ``segments``: the same per segment dimension x segment, with intervals corrected over
    the segments and treatments of a dimension. ``heterogeneity``: Cochran's Q per dimension
    x metric x treatment. ``srm_segments``: the sample-ratio check per segment.
    """

    experiment: Experiment
    results: pd.DataFrame
    segments: pd.DataFrame
    heterogeneity: pd.DataFrame
    srm: st.SrmResult
    srm_segments: pd.DataFrame
    decision: Decision
    early: bool
    capped: bool
    assigned: dict[str, int]
    settings: Settings
    exclusions: dict[str, int] = field(default_factory=dict)
    segment_source: str = ""
    caps: dict[str, float] = field(default_factory=dict)
    stats: pd.DataFrame | None = None  # all sufficient statistics (capped and uncapped), to re-analyse


def planned_end(experiment: Experiment) -> pd.Timestamp:
    """The planned end: midnight after the experiment's last day (``end``)."""
    return experiment.end.normalize() + pd.Timedelta(days=1)


def load_experiments(config: KitConfig, which: str = "all", month: str | None = None) -> list[Experiment]:
    """Experiments from the configured catalog: the one whose id is ``which``, or "all"
    (those started before the end of ``month`` when a month is given)."""
    if config.experiments.catalog is None:
        raise ValueError("no experiment catalogue: set experiments.catalog in the config to the catalogue file")
    experiments = load_catalog(config.resolve(config.experiments.catalog))
    if which == "all":
        return [e for e in experiments if month is None or e.start < snapshot_end(month)]
    chosen = [e for e in experiments if e.id == which]
    if not chosen:
        raise ValueError(
            f"experiment {which!r} is not in {config.resolve(config.experiments.catalog)}; "
            f"known: {', '.join(e.id for e in experiments)}."
        )
    return chosen


def read_out(wh: Warehouse, config: KitConfig, experiment: Experiment, month: str,
             capped: bool = True) -> Readout:
    """Full readout of ``experiment`` with data up to the end of ``month``."""
    end = snapshot_end(month)
    settings = Settings.from_config(config)
    um = user_metrics(wh, config, experiment, end)
    users = wh.materialise(um.table, "exp_users")  # the caps and the sums both read it
    caps = winsor_caps(users, settings.winsorize_quantile)
    stats = sufficient_stats(users, caps)
    readout = analyse(stats, experiment, um.assigned, settings, early=end < planned_end(experiment),
                      capped=capped, segments=um.segments)
    return replace(readout, exclusions=um.exclusions, segment_source=um.segment_source, caps=caps)


def analyse(stats: pd.DataFrame, experiment: Experiment, assigned: dict[str, int], settings: Settings,
            early: bool, capped: bool = True, segments: tuple[str, ...] | None = None) -> Readout:
    """The readout from sufficient statistics (see ``kit.experiments.metrics.sufficient_stats``)."""
    e = experiment
    segments = e.segments if segments is None else segments
    all_stats, stats = stats, _select_capping(stats, capped)
    srm = st.srm_test([assigned.get(v, 0) for v in e.variants], list(e.variants.values()), settings.srm_alpha)

    results = _effects(stats, e, settings, early, by=[])
    seg_frames, het_frames, srm_frames = [], [], []
    for dim in segments:
        seg = _effects(stats, e, settings, early, by=[dim])
        if seg.empty:
            continue
        seg = seg.rename(columns={dim: "segment"}).assign(dimension=dim)
        seg_frames.append(seg)
        het_frames.append(_heterogeneity(seg, dim))
        srm_frames.append(_segment_srm(stats, e, dim, settings.srm_alpha))
    seg_table = pd.concat(seg_frames, ignore_index=True) if seg_frames else pd.DataFrame()
    het_table = pd.concat(het_frames, ignore_index=True) if het_frames else pd.DataFrame()
    srm_table = pd.concat(srm_frames, ignore_index=True) if srm_frames else pd.DataFrame()
    failed = [f"{r.dimension}={r.segment}" for r in srm_table.itertuples() if r.failed] if len(srm_table) else []
    decision = decide(results, srm.failed, failed, early)
    return Readout(e, results, seg_table, het_table, srm, srm_table, decision, early, capped, assigned, settings,
                   stats=all_stats)


def _select_capping(stats: pd.DataFrame, capped: bool) -> pd.DataFrame:
    """Keep one version of each metric: capped when asked and available, else uncapped."""
    has_capped = set(stats.loc[stats.capped, "metric"])
    keep = stats.capped if capped else ~stats.capped
    if capped:
        keep = keep | (~stats.capped & ~stats.metric.isin(has_capped))
    return stats[keep]


def _arm_stats(cells: pd.DataFrame, metric: str) -> dict[str, st.CupedStats | st.RatioStats]:
    """Per-variant statistics objects from summed cells of one metric."""
    out: dict[str, st.CupedStats | st.RatioStats] = {}
    for variant, r in cells.groupby("variant")[list(STAT_COLUMNS)].sum().iterrows():
        if metric in RATIO_METRICS:
            out[str(variant)] = st.RatioStats(r.n, st.ArmStats(r.n, r.sy, r.syy), st.ArmStats(r.n, r.sx, r.sxx), r.sxy)
        else:
            sums = np.array([r.sy, r.sx, r.sd])
            cross = np.array([[r.syy, r.sxy, r.syd], [r.sxy, r.sxx, r.sxd], [r.syd, r.sxd, r.sd]])
            out[str(variant)] = st.CupedStats(r.n, sums, cross)
    return out


def compare(c: st.CupedStats | st.RatioStats, t: st.CupedStats | st.RatioStats, binary: bool,
            alpha: float, cuped: bool = True) -> dict[str, float]:
    """One treatment vs control on one metric: the numbers of a results row.

    ``effect``/``se``/``df``/``p_value``/``rel``/``rel_se`` are the estimator used for decisions
    (CUPED for mean metrics unless ``cuped`` is false, the delta method for a ratio);
    ``raw_*`` the unadjusted ones (two-proportion test for a ``binary`` metric, else Welch).
    """
    if isinstance(c, st.RatioStats):
        raw = st.ratio_test(c, t, alpha)
        used, reduction, n_c, n_t = raw, 0.0, c.n, t.n
        cuped = False
    else:
        res = st.cuped_test(c, t, alpha, binary=binary)
        raw, n_c, n_t = res.unadjusted, c.n, t.n
        used, reduction = (res.adjusted, res.variance_reduction) if cuped else (raw, 0.0)
    return {
        "n_control": float(n_c), "n_variant": float(n_t),
        "control_mean": float(raw.control_mean), "variant_mean": float(raw.variant_mean),
        "effect": float(used.estimate), "se": float(used.se), "df": float(used.df), "p_value": float(used.p_value),
        "rel": float(used.rel), "rel_se": float(used.rel_se),
        "raw_abs": float(raw.estimate), "raw_se": float(raw.se), "raw_p": float(raw.p_value),
        "raw_ci_low": float(raw.ci_low), "raw_ci_high": float(raw.ci_high),
        "raw_rel": float(raw.rel), "raw_rel_se": float(raw.rel_se),
        "cuped": cuped, "variance_reduction": float(reduction),
        "unit_sd": float(used.se / np.sqrt(1 / n_c + 1 / n_t)),
    }


def _effects(stats: pd.DataFrame, e: Experiment, s: Settings, early: bool, by: list[str]) -> pd.DataFrame:
    """Results rows per metric x treatment (x the ``by`` segment), corrected per family.

    The correction family is all treatments (and segments of the dimension) of one metric.
    """
    rows = []
    roles = {e.primary_metric: "primary", **{m: "secondary" for m in e.secondary_metrics},
             **{m: "guardrail" for m in e.guardrail_metrics}}
    for metric in e.metrics:
        cells = stats[stats.metric == metric]
        groups = cells.groupby(by) if by else [((), cells)]
        for key, part in groups:
            arms = _arm_stats(part, metric)
            control = arms.get(e.control)
            for variant in e.treatments:
                treat = arms.get(variant)
                row: dict[str, object] = {"metric": metric, "role": roles[metric], "variant": variant,
                                          "direction": -1 if metric in LOWER_IS_BETTER else 1}
                if by:
                    row[by[0]] = key[0] if isinstance(key, tuple) else key
                if control is None or treat is None or min(control.n, treat.n) < (MIN_SEGMENT_USERS if by else 3):
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):  # empty cells give NaN, dropped below
                    row.update(compare(control, treat, metric in BINARY_METRICS, s.alpha))
                rows.append(row)
    if not rows:  # nothing to compare yet (e.g. no exposure window has ended): keep the key columns
        return pd.DataFrame(columns=["metric", "role", "variant", *by])
    out = pd.DataFrame(rows)
    out = out[np.isfinite(out.se) & (out.se > 0)].reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # relative figures of a zero control mean are NaN
        return corrected(out, s, early)


def corrected(out: pd.DataFrame, s: Settings, early: bool) -> pd.DataFrame:
    """Multiplicity-corrected p-values and intervals, sequential intervals, Bayes, power,
    per metric over its rows (``direction``: +1 when higher is better, -1 when lower)."""
    frames = []
    for _, fam in out.groupby("metric", sort=False):
        fam = fam.copy()
        fam["p_adj"] = st.adjust_pvalues(fam.p_value.to_numpy(), s.correction)
        a = st.corrected_alpha(s.alpha, len(fam), s.correction, int((fam.p_adj < s.alpha).sum()))
        fam["alpha_used"] = a
        fam["ci_low"], fam["ci_high"] = st.interval(fam.effect, fam.se, fam.df, a)
        fam["rel_ci_low"], fam["rel_ci_high"] = st.interval(fam.rel, fam.rel_se, np.inf, a)
        n = fam.n_control + fam.n_variant
        hw = st.sequential_halfwidth(fam.se, n, a, s.sequential_tuning)
        rel_hw = st.sequential_halfwidth(fam.rel_se, n, a, s.sequential_tuning)
        fam["seq_low"], fam["seq_high"] = fam["effect"] - hw, fam["effect"] + hw
        fam["rel_seq_low"], fam["rel_seq_high"] = fam.rel - rel_hw, fam.rel + rel_hw
        sig_fixed = fam.p_adj < s.alpha
        sig_seq = (fam.seq_low > 0) | (fam.seq_high < 0)
        fam["significant"] = (sig_fixed & sig_seq) if early else sig_fixed
        direction = int(fam.direction.iloc[0])
        bayes = st.bayesian(fam.rel.to_numpy(), fam.rel_se.to_numpy(), higher_is_better=direction == 1)
        fam["chance_to_win"], fam["loss_variant"], fam["loss_control"] = (
            bayes.chance_to_win, bayes.loss_variant, bayes.loss_control)
        z = st.sps.norm.ppf(1 - a / 2) + st.sps.norm.ppf(s.power)
        fam["mde_abs"] = z * fam.se
        fam["rel_mde"] = fam.mde_abs / fam.control_mean.abs()
        frames.append(fam)
    return pd.concat(frames, ignore_index=True)


def _heterogeneity(seg: pd.DataFrame, dim: str) -> pd.DataFrame:
    """Cochran's Q on the segment effects of each metric x treatment."""
    rows = []
    for (metric, variant), g in seg.groupby(["metric", "variant"], sort=False):
        h = st.cochran_q(g["effect"].to_numpy(), g.se.to_numpy())
        rows.append({"dimension": dim, "metric": metric, "variant": variant, "q": h.q, "df": h.df,
                     "p_value": h.p_value, "i2": h.i2, "segments": len(g)})
    return pd.DataFrame(rows)


def _segment_srm(stats: pd.DataFrame, e: Experiment, dim: str, srm_alpha: float) -> pd.DataFrame:
    """Sample-ratio check per segment (users with a complete window), Bonferroni over segments."""
    counts = (stats[(stats.metric == "conversion")].groupby([dim, "variant"]).n.sum().unstack(fill_value=0.0))
    counts = counts.reindex(columns=list(e.variants), fill_value=0.0)
    counts = counts[counts.sum(axis=1) >= MIN_SEGMENT_USERS * len(e.variants)]
    rows = []
    for segment, r in counts.iterrows():
        res = st.srm_test(r.to_numpy(), list(e.variants.values()), srm_alpha / max(len(counts), 1))
        rows.append({"dimension": dim, "segment": segment, "users": int(r.sum()), "chi2": res.chi2,
                     "p_value": res.p_value, "failed": res.failed,
                     **{f"n_{v}": int(r[v]) for v in e.variants}})
    return pd.DataFrame(rows)


def planning(unit_sd: float, control_mean: float, targets: list[float], alpha: float = 0.05,
             power: float = 0.8, share_ratio: float = 1.0) -> pd.DataFrame:
    """Users per control arm needed to detect each relative lift in ``targets``.

    ``unit_sd`` is the per-user standard deviation behind the estimator (``results.unit_sd``,
    already reduced by CUPED), ``share_ratio`` the variant/control size ratio.
    """
    rows = [{"target_rel": t, "users_control": st.sample_size(unit_sd, abs(t * control_mean), alpha, power, share_ratio)}
            for t in targets]
    return pd.DataFrame(rows)
