"""Persona accuracy against the demo generator's latent personas (issue 16's measurement).

``persona_accuracy(seed)`` generates a 5,000-person demo world, ingests it, builds the
profile (identified customers only: anonymous store receipts are no customers) and fits
the personas as 03_segmentation does, then scores them with the adjusted Rand index
against each customer's true persona: over buyers, over all identified customers and
among the never-ordered customers placed from their profile. Run
``python -m kit.bench.personas [SEED ...]`` (seeds 42 3 11 by default); takes about a
minute per world on 2 cores. docs/decisions/0009-persona-placement.md has the figures.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.metrics import adjusted_rand_score

from kit.core.config import PROJECT_ROOT, load_config
from kit.core.warehouse import Warehouse
from kit.demo import generate
from kit.ingest import run_ingest
from kit.profile import build_features
from kit.segments.personas import browsing_features
from kit.segments.pipeline import build_segments

MONTH = "2026-10"


def latent_personas(folder: Path, customer_ids: pd.Series) -> pd.Series:
    """The generator's persona of each customer id of a demo world in ``folder`` (the most
    common person among the source records ingest linked to the id)."""
    truth = folder / "data" / "raw" / "demo" / "_truth"
    records = pd.read_parquet(truth / "source_records.parquet")
    identities = pd.read_parquet(folder / "data" / "warehouse" / "identities.parquet")
    linked = identities.merge(records, on=["source", "source_id"])
    person = linked.groupby("customer_id")["person_id"].agg(lambda s: s.mode().iloc[0])
    persona = pd.read_parquet(truth / "persons.parquet").set_index("person_id")["persona"].astype("str")
    return customer_ids.map(person).map(persona)


def persona_accuracy(seed: int, folder: Path, customers: int = 5000) -> dict[str, float | int]:
    """Generate, ingest and segment a demo world in ``folder``; the personas' ARI figures."""
    (folder / "config").mkdir(parents=True, exist_ok=True)
    for file in (PROJECT_ROOT / "config").glob("*.yml"):
        shutil.copy(file, folder / "config" / file.name)
    generate(folder / "data" / "raw" / "demo", customers=customers, seed=seed)
    config = load_config(folder / "config" / "kit.yml")
    # a fixed pseudonymisation key per seed: customer ids, and so the persona fit sample
    # (kit.core.sampling), are the same on every run of the measurement
    key = config.resolve(config.identity.key_file)
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text(hashlib.sha256(f"kit.bench.personas {seed}".encode()).hexdigest() + "\n", encoding="utf-8")
    run_ingest(config)
    wh = Warehouse.from_config(config)
    profile = build_features(wh, MONTH, config)
    segments = build_segments(profile, config, browsing=browsing_features(wh, MONTH))
    truth = latent_personas(folder, segments["customer_id"])
    ordered = profile["has_ordered"].to_numpy()
    placed = (segments["persona_basis"] == "profile").to_numpy()
    persona = segments["persona_id"]
    return {
        "seed": seed,
        "customers": len(segments),
        "k": int(persona[ordered].nunique()),
        "ari_buyers": adjusted_rand_score(truth[ordered], persona[ordered]),
        "ari_all": adjusted_rand_score(truth, persona),
        "ari_placed": adjusted_rand_score(truth[placed], persona[placed]),
        "never_ordered_share": float((~ordered).mean()),
        "unprofiled_share": float((segments["persona_basis"] == "none").mean()),
        "buyers_placed_by_orders": bool((segments.loc[ordered, "persona_basis"] == "orders").all()),
        "bases": ",".join(sorted(set(segments["persona_basis"]))),
    }


def main(seeds: list[int]) -> None:
    """Print the figures of every seed as one table."""
    rows = []
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix=f"kit_personas_{seed}_") as folder:
            rows.append(persona_accuracy(seed, Path(folder)))
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [42, 3, 11])
