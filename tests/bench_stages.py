"""Stand-in stage functions for tests/test_bench.py (imported by the spawned stage processes)."""

from __future__ import annotations

import json
from pathlib import Path

from kit.core.config import KitConfig


def fake_world(out_dir: Path, customers: int, seed: int, end_month: str) -> None:
    """Write the one file the harness looks for, with the generator's parameters."""
    truth = Path(out_dir) / "_truth"
    truth.mkdir(parents=True, exist_ok=True)
    (truth / "config.json").write_text(json.dumps({"customers": customers, "seed": seed, "end_month": end_month}))


def allocate(config: KitConfig) -> dict[str, object]:
    """Touch 200 MB so the stage's peak memory is clearly above a bare interpreter's; report
    what was touched (the harness keeps the scalar entries as the stage's details)."""
    block = bytearray(200 * 1024 * 1024)
    block[:: 4096] = b"x" * len(block[:: 4096])
    return {"touched_mb": 200, "pages": [4096]}
