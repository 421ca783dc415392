"""The decision line of a readout: ship / do not ship / keep running / investigate.

Rules, in order (each reason is an i18n key in kit/text/strings/experiments.yml plus values):
1. A failed sample-ratio check (overall or in a segment) means the assignment is broken and
   no effect can be trusted: **investigate**. It always blocks "ship".
2. A variant whose primary metric improved significantly (in its good direction) (multiplicity-corrected p-value,
   and before the planned end the always-valid interval must exclude 0) and that harms no
   guardrail metric significantly is shipped; the best such variant by relative lift wins.
3. A significant improvement that harms a guardrail: **do not ship** (trade-off named).
4. A significantly worse primary metric in every variant: **do not ship**.
   (No user has finished the exposure window yet: **keep running**.)
5. Otherwise: **keep running** before the planned end (plus exposure window), else
   **do not ship** (no detectable effect; the minimum detectable effect is named).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Verdict = Literal["ship", "do_not_ship", "keep_running", "investigate"]


@dataclass(frozen=True)
class Decision:
    """The verdict, the variant it concerns (if any) and the reasons as (i18n key, values)."""

    verdict: Verdict
    variant: str | None
    reasons: list[tuple[str, dict[str, object]]] = field(default_factory=list)


def decide(results: pd.DataFrame, srm_failed: bool, srm_failed_segments: list[str], early: bool) -> Decision:
    """Decide from the per metric x variant ``results`` of a readout.

    ``results`` needs columns: variant, metric, role (primary/secondary/guardrail),
    significant (bool, corrected and, when early, sequential), rel (relative lift),
    direction (+1 when higher is better, -1 when lower is better), rel_mde (relative
    minimum detectable effect of the primary metric).
    """
    reasons: list[tuple[str, dict[str, object]]] = []
    if srm_failed:
        reasons.append(("exp.reason.srm", {}))
    if srm_failed_segments:
        reasons.append(("exp.reason.srm_segment", {"segments": ", ".join(srm_failed_segments)}))
    if reasons:
        return Decision("investigate", None, reasons)
    if results.empty:
        return Decision("keep_running", None, [("exp.reason.no_data", {})])

    good = results.rel * results.direction
    primary = results[results.role == "primary"]
    guard = results[(results.role == "guardrail") & results.significant & (good < 0)]
    winners = primary[primary.significant & (good[primary.index] > 0)].sort_values("rel", ascending=False)
    clean = winners[~winners.variant.isin(guard.variant)]
    if len(clean):
        best = clean.iloc[0]
        reasons.append(("exp.reason.primary_up", {"variant": best.variant, "metric": best.metric, "rel": best.rel}))
        if early:
            reasons.append(("exp.reason.sequential_ok", {}))
        return Decision("ship", str(best.variant), reasons)
    if len(winners):
        hurt = guard[guard.variant == winners.iloc[0].variant].iloc[0]
        reasons.append(("exp.reason.primary_up", {"variant": hurt.variant, "metric": winners.iloc[0].metric,
                                                  "rel": winners.iloc[0].rel}))
        reasons.append(("exp.reason.guardrail_down", {"variant": hurt.variant, "metric": hurt.metric, "rel": hurt.rel}))
        return Decision("do_not_ship", str(hurt.variant), reasons)
    losers = primary[primary.significant & (good[primary.index] < 0)]
    if len(primary) and len(losers) == len(primary):
        worst = losers.sort_values("rel").iloc[0]
        reasons.append(("exp.reason.primary_down", {"variant": worst.variant, "metric": worst.metric, "rel": worst.rel}))
        return Decision("do_not_ship", None, reasons)
    mde = float(primary.rel_mde.min()) if len(primary) else float("nan")
    if early:
        reasons.append(("exp.reason.not_yet", {"mde": mde}))
        return Decision("keep_running", None, reasons)
    reasons.append(("exp.reason.no_effect", {"mde": mde}))
    return Decision("do_not_ship", None, reasons)
