"""The measurements of decision record 0020: ingest with the parse cache on the 250,000-customer
demo world, its shop and POS orders split into one file per month.

    .venv/bin/python docs/decisions/0022-measure.py data/bench/inc250k            # runs 1-4
    .venv/bin/python docs/decisions/0022-measure.py data/bench/inc250k --control  # run 0, after 1-4

The world comes first (0022-ingest-parse-cache.md, "How measured"). This script builds
``<world>_monthly`` beside it (the other raw files hard-linked, orders split by month), holds
back the last month (2026-10), then times: 1 a first ingest (empty cache), 2 the same files
again, 3 with the last month's two files added, 4 the same 30 months from an empty cache on
a copy of the warehouse as it was before run 3 (the full rebuild run 3 must equal), and
compares the tables of 3 and 4. ``--control`` times the full ingest with the cache switched
off (every file parsed, nothing hashed or cached: the code path before the cache) on a copy
of run 4's warehouse. Each run prints one JSON line: seconds in all and per phase
(``kit.ingest.pipeline.PHASES``) and the files parsed / reused / read in place.
"""

import dataclasses
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import duckdb
import yaml

from kit.core.config import load_config
from kit.ingest import pipeline, run_ingest, sources

LAST = "2026-10"
SPLIT = {  # source: (file, timestamp column, month of a timestamp)
    "shop": ("shop_orders.csv", 3, lambda value: value[:7]),
    "pos": ("pos_orders.csv", 5, lambda value: value[6:10] + "-" + value[3:5]),
}


def split(world: Path, project: Path, name: str) -> None:
    """``<world>/raw/<file>`` as one file per month of its timestamp, header repeated, lines
    unchanged (a line whose month does not parse stays with the line before it)."""
    file, column, month_of = SPLIT[name]
    folder = project / "raw" / name
    folder.mkdir(parents=True)
    outs, month = {}, None
    with (world / "raw" / file).open("rb") as src:
        header = src.readline()
        for line in src:
            found = month_of(line.decode("utf-8").split(",")[column].strip('"'))
            month = found if re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", found) else month
            if month not in outs:
                outs[month] = (folder / f"{name}_{month}.csv").open("wb")
                outs[month].write(header)
            outs[month].write(line)
    for out in outs.values():
        out.close()


def build(world: Path, project: Path) -> None:
    """The monthly project: config and raw files."""
    (project / "raw").mkdir(parents=True)
    for file in (world / "raw").iterdir():
        if file.is_file() and file.name not in {f for f, _, _ in SPLIT.values()}:
            os.link(file, project / "raw" / file.name)
    for name in SPLIT:
        split(world, project, name)
    data = yaml.safe_load((world / "kit.yml").read_text(encoding="utf-8"))
    data["paths"].update({key: str(project / key) for key in ("raw", "warehouse", "reports", "scratch", "ingest_cache")})
    for name, source in data["sources"].items():
        source["path"] = str(project / "raw" / (f"{name}/{name}_*.csv" if name in SPLIT else Path(source["path"]).name))
    (project / "kit.yml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def ingest(config, label: str) -> None:
    """Time one ingest; print its JSON line."""
    started = time.perf_counter()
    result = run_ingest(config)
    files = {how: sum(s.file_reads[how] for s in result.sources.values()) for how in ("parsed", "reused", "in_place")}
    seconds = {k: round(v, 1) for k, v in result.seconds.items()}
    print(json.dumps({"run": label, "seconds": round(time.perf_counter() - started, 1), **seconds, **files}), flush=True)


def moved(config, project: Path, warehouse: str, cache: str):
    """``config`` with its warehouse and parse cache in other folders of the project."""
    paths = dataclasses.replace(config.paths, warehouse=project / warehouse, ingest_cache=project / cache)
    return dataclasses.replace(config, paths=paths)


def differing(a: Path, b: Path) -> list[str]:
    """The Parquet files of warehouse a whose rows (as a multiset) differ from b's."""
    con, found = duckdb.connect(), []
    con.execute("SET enable_progress_bar = false")
    for file in sorted(a.rglob("*.parquet")):
        other = b / file.relative_to(a)
        both = f"(FROM '{file}' EXCEPT ALL FROM '{other}') UNION ALL (FROM '{other}' EXCEPT ALL FROM '{file}')"
        if con.execute(f"SELECT count(*) FROM ({both})").fetchall()[0][0]:
            found.append(file.relative_to(a).as_posix())
    return found


def main(world: Path, control: bool) -> None:
    project = world.parent / (world.name + "_monthly")
    if control:
        pipeline.load_source = lambda con, cfg, name, source, scratch, cache: sources.load_source(con, cfg, name, source, scratch)
        shutil.rmtree(project / "warehouse_nocache", ignore_errors=True)
        shutil.copytree(project / "warehouse_full", project / "warehouse_nocache")
        ingest(moved(load_config(project / "kit.yml"), project, "warehouse_nocache", "unused"), "0 no parse cache")
        return
    if not project.exists():
        build(world, project)
    config = load_config(project / "kit.yml")
    held = project / "held_back"
    held.mkdir(exist_ok=True)
    for name in SPLIT:
        os.replace(project / "raw" / name / f"{name}_{LAST}.csv", held / f"{name}_{LAST}.csv")
    for folder in ("warehouse", "ingest_cache", "warehouse_full", "ingest_cache_full"):
        shutil.rmtree(project / folder, ignore_errors=True)
    ingest(config, "1 first run, 29 months, empty cache")
    ingest(config, "2 same files again")
    shutil.copytree(project / "warehouse", project / "warehouse_full")
    for name in SPLIT:
        os.replace(held / f"{name}_{LAST}.csv", project / "raw" / name / f"{name}_{LAST}.csv")
    ingest(config, "3 one more month (2 new files)")
    ingest(moved(config, project, "warehouse_full", "ingest_cache_full"), "4 the same 30 months, empty cache")
    print("tables that differ between run 3 and run 4:", differing(project / "warehouse", project / "warehouse_full"))
    size = sum(f.stat().st_size for f in (project / "ingest_cache").rglob("*") if f.is_file())
    print(f"parse cache: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), "--control" in sys.argv[2:])
