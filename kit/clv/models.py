"""The purchase-count models by their config names (``clv.models`` in config/kit.yml)."""

from __future__ import annotations

from kit.clv.base import CountModel
from kit.clv.bgnbd import BetaGeoModel
from kit.clv.mbgnbd import ModifiedBetaGeoModel
from kit.clv.paretonbd import ParetoNBDModel

COUNT_MODELS: dict[str, type[CountModel]] = {
    BetaGeoModel.name: BetaGeoModel,
    ParetoNBDModel.name: ParetoNBDModel,
    ModifiedBetaGeoModel.name: ModifiedBetaGeoModel,
}


def make_model(name: str) -> CountModel:
    """A new, unfitted model; a clear error for an unknown name."""
    if name not in COUNT_MODELS:
        raise ValueError(f"clv.models: unknown model {name!r}. Allowed: {', '.join(COUNT_MODELS)}.")
    return COUNT_MODELS[name]()
