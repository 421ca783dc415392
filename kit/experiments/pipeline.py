"""The 06_experiment_readout stage entry: ``run(wh, month, config, which)`` reads the catalog
and reads out every chosen experiment (kit.experiments.readout); ``ExperimentsResult``
holds the readouts and gives the figures of metrics/06_experiment_readout.json
(``headline``). Nothing is written besides those metrics. kit.experiments.page displays it.

A company that runs no experiments needs nothing: without a catalogue file (the config's
``experiments.catalog``, none by default) or without assignment data the
result holds no readouts and says what is missing (``missing``), and the page says so in
one line; an empty catalogue (``experiments: []``) has no readouts and nothing missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.core.config import KitConfig
from kit.core.warehouse import Warehouse, WarehouseError
from kit.experiments.catalog import Experiment
from kit.experiments.readout import Readout, Settings, load_experiments, read_out

Item = tuple[Experiment, Readout | str]  # a readout, or the message of the data problem that stopped it
VERDICTS = ("ship", "do_not_ship", "keep_running", "investigate")


@dataclass(frozen=True)
class ExperimentsResult:
    """The month's readouts, in catalog order."""

    month: str
    items: list[Item]
    settings: Settings
    # "unset" (no catalogue configured), "catalog" (its file not found), "assignments" (no assignment data)
    missing: str | None = None
    catalog: str = ""  # the catalogue's file name (never a server path: pages show it)
    listed: int = 0  # experiments the catalogue lists for the month (also when nothing could be read out)

    @property
    def readouts(self) -> list[Readout]:
        """The experiments that could be read out."""
        return [r for _, r in self.items if not isinstance(r, str)]

    def verdict_counts(self) -> dict[str, int]:
        """Experiments per verdict (``VERDICTS`` order)."""
        verdicts = [r.decision.verdict for r in self.readouts]
        return {v: verdicts.count(v) for v in VERDICTS}

    def headline(self) -> dict[str, Any]:
        """Figures for metrics.json: per experiment the decision, primary lift and SRM p-value."""
        out: dict[str, Any] = {"experiments": len(self.items)}
        if self.missing:
            out["missing"] = self.missing
        for e, r in self.items:
            if isinstance(r, str):
                out[f"{e.id}.decision"] = "error"
                continue
            out[f"{e.id}.decision"] = r.decision.verdict
            out[f"{e.id}.variant"] = r.decision.variant or ""
            out[f"{e.id}.srm_p_value"] = float(r.srm.p_value)
            out[f"{e.id}.users"] = int(sum(r.assigned.values()))
            primary = r.results[r.results.metric == e.primary_metric]
            if len(primary):
                best = primary.sort_values("rel", ascending=False).iloc[0]
                out[f"{e.id}.primary_metric"] = e.primary_metric
                out[f"{e.id}.primary_lift"] = float(best.rel)
                out[f"{e.id}.primary_lift_low"] = float(best.rel_ci_low)
                out[f"{e.id}.primary_lift_high"] = float(best.rel_ci_high)
                out[f"{e.id}.primary_p_adj"] = float(best.p_adj)
        return out


def read_all(wh: Warehouse, config: KitConfig, month: str, which: str = "all") -> list[Item]:
    """Readouts of the chosen experiments (``"all"``: every one started by the end of
    ``month``); a data problem becomes that experiment's message instead of an error."""
    items: list[Item] = []
    for e in load_experiments(config, which, month):
        try:
            items.append((e, read_out(wh, config, e, month)))
        except (WarehouseError, ValueError) as exc:
            items.append((e, str(exc)))
    return items


def run(wh: Warehouse, month: str, config: KitConfig, which: str = "all") -> ExperimentsResult:
    """Read out the experiment ``which`` (an id) or all experiments started by ``month``;
    nothing to read out (``missing``) without a catalogue file or without assignments."""
    settings = Settings.from_config(config)
    if config.experiments.catalog is None:
        return ExperimentsResult(month, [], settings, missing="unset")
    catalog = config.resolve(config.experiments.catalog)
    if not catalog.is_file():
        return ExperimentsResult(month, [], settings, missing="catalog", catalog=catalog.name)
    listed = len(load_experiments(config, which, month))
    if listed and not wh.inputs().has("assignments"):
        return ExperimentsResult(month, [], settings, missing="assignments", catalog=catalog.name, listed=listed)
    return ExperimentsResult(month, read_all(wh, config, month, which), settings, catalog=catalog.name, listed=listed)
