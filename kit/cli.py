"""The ``kit`` command: ``kit run``, ``kit demo-data``, ``kit lab``, ``kit bench``, ``kit init``
and ``kit check``.

Exit codes: 0 success; 1 a notebook or benchmark stage failed, or the data fitness gate
stopped the run, or ``kit check`` found the config or the raw files not ready for a run
(a config that does not load included); 2 the command could not start (bad arguments, config error, missing
notebook, refused parameter, missing module, another run holding the project's lock).
Heavy imports (papermill, the demo generator) happen inside the commands so that
``kit --help`` is quick and works before every module exists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kit import __version__
from kit.core.config import MONTH_PATTERN, ConfigError, load_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A command cannot start; the message says what to do."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kit`` command and its subcommands."""
    parser = argparse.ArgumentParser(prog="kit", description="Customer lifecycle analytics kit.")
    parser.add_argument("--version", action="version", version=f"kit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="execute the monthly notebooks and publish the HTML reports")
    run.add_argument("--month", help="run month YYYY-MM (default: run.month in the config)")
    run.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (kept in run order)")
    run.add_argument("--config", type=Path, help="config file (default: config/kit.yml)")
    run.add_argument("--lang", choices=["en", "zh"], help="report language (default: run.lang in the config)")
    run.add_argument(
        "--accept-data-warnings",
        action="store_true",
        help="publish even when the data fitness gate after 01_ingest grades a source 'fail' (recorded in run.json)",
    )

    demo = commands.add_parser("demo-data", help="generate the synthetic demo company's raw files")
    demo.add_argument("--customers", type=_positive_int, default=50000, help="number of people (default 50000)")
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument("--out", type=Path, help="output folder (default: paths.raw in the config)")
    demo.add_argument("--config", type=Path, help="config file (default: config/kit.yml)")
    demo.add_argument(
        "--shape",
        help="write a company shape instead (kit.demo.shapes: orders_only, member_store, app_events, us_store, "
        "subscription_app) "
        "as a project in --out: its raw/ files and kit.yml",
    )

    lab = commands.add_parser(
        "lab", help="open JupyterLab on your working copies of the notebooks (they write only to the scratch area)"
    )
    lab.add_argument("--config", type=Path, help="config file (default: config/kit.yml)")

    bench = commands.add_parser("bench", help="time each stage and the monthly run on generated data")
    bench.add_argument("--customers", type=_positive_int, required=True, help="size of the generated world")
    bench.add_argument("--seed", type=int, default=42, help="random seed of the generated world (default 42)")
    bench.add_argument("--out", type=Path, help="folder for the JSON result (default: <paths.reports>/bench)")
    bench.add_argument("--stages", nargs="+", metavar="NAME", help="run only these stages")
    bench.add_argument("--config", type=Path, help="base config file (default: config/kit.yml)")
    bench.add_argument(
        "--world",
        default="retail",
        help="retail (default: the demo company, every stage) or subscriptions (the subscription_app shape's "
        "accounts in data/bench/subscriptions_N with contractual churn settings: demo-data, ingest, features-tags, churn)",
    )

    bench.add_argument(
        "--backend",
        default="duckdb",
        help="duckdb (default) or pyspark: the stages that read the warehouse through Ibis, on Spark local, "
        "from the world the DuckDB bench built, beside that bench's times",
    )

    init = commands.add_parser("init", help="sniff a folder of exported files and write a starter config")
    init.add_argument("raw", type=Path, metavar="RAW_FOLDER", help="the folder holding the exported files")
    init.add_argument("--out", type=Path, help="config file to write (default: config/<folder name>.yml; the folder above a folder named raw or data)")
    init.add_argument("--project", help="company or project name shown on the reports (default: the folder name)")
    init.add_argument("--currency", help="currency code of the amounts, e.g. CNY, USD (default: guessed)")
    init.add_argument("--timezone", help="time zone of the timestamps, e.g. Asia/Shanghai (default: guessed)")
    init.add_argument("--force", action="store_true", help="overwrite the config file if it exists")

    check = commands.add_parser("check", help="validate a config against its raw files before a run")
    check.add_argument("--config", type=Path, help="config file (default: config/kit.yml)")
    return parser


def _positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    """``kit run``: execute and publish one month."""
    from kit.runner import RunError, run_month

    # an empty --month "" is refused, never read as "the config's month"
    if args.month is not None and not MONTH_PATTERN.match(args.month):
        raise CommandError(f"--month {args.month[:40]!r}: expected YYYY-MM with a month 01-12, for example 2026-10")
    run_overrides = {key: value for key, value in (("month", args.month), ("lang", args.lang)) if value is not None}
    config = load_config(args.config, overrides={"run": run_overrides})
    try:
        result = run_month(
            config, config.run.month, only=args.only, lang=config.run.lang,
            accept_data_warnings=args.accept_data_warnings,
        )
    except RunError as exc:
        raise CommandError(str(exc)) from exc
    return result.exit_code


def cmd_demo_data(args: argparse.Namespace) -> int:
    """``kit demo-data``: write the demo company's raw files."""
    if args.shape:
        return _demo_shape(args)
    config = load_config(args.config)
    out = args.out.resolve() if args.out else config.resolve(config.paths.raw)
    try:
        from kit.demo import generate
    except ImportError as exc:
        raise CommandError(f"the demo generator kit.demo.generate is not available: {exc}") from exc
    print(f"generating {args.customers:,} customers (seed {args.seed}) into {out}")
    try:
        summary = generate(out, customers=args.customers, seed=args.seed)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    for name, value in summary.items():
        print(f"  {name:<34} {value:>12,}" if isinstance(value, int) else f"  {name:<34} {value:>12.1f}")
    print(f"demo data written to {out}")
    return EXIT_OK


def _demo_shape(args: argparse.Namespace) -> int:
    """``kit demo-data --shape NAME --out FOLDER``: one company shape as a project folder."""
    from kit.demo.shapes import write_shape

    if not args.out:
        raise CommandError("--shape needs --out FOLDER (the shape's project folder)")
    try:
        path = write_shape(args.shape, args.out.resolve(), customers=args.customers, seed=args.seed)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print(f"shape {args.shape} written to {args.out}; run it with: kit run --config {path}")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    """``kit bench``: run the benchmark harness."""
    from kit.bench.stages import BenchError, run_bench

    base = load_config(args.config)
    try:
        out = args.out.resolve() if args.out else None
        report = run_bench(
            base, customers=args.customers, seed=args.seed, out=out, stages=args.stages, world=args.world,
            backend=args.backend,
        )
    except BenchError as exc:
        raise CommandError(str(exc)) from exc
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_lab(args: argparse.Namespace) -> int:
    """``kit lab``: JupyterLab on this user's working copies of the notebooks (kit.core.scratch).

    The tracked notebooks stay as committed (autosave writes into the copies), and every
    notebook run there reads and writes this user's scratch copy of the warehouse."""
    import os

    from kit.core import scratch

    config = load_config(args.config)
    folder, stale = scratch.working_notebooks(config, config.source_file)
    for line in stale:
        print(f"kit lab: {line}", file=sys.stderr)
    print(f"kit lab: working copies in {folder}; they write only to {scratch.user_dir(config)}", flush=True)
    command = scratch.lab_command(folder)
    os.execv(command[0], command)
    return EXIT_OK  # not reached: execv replaces this process


def cmd_init(args: argparse.Namespace) -> int:
    """``kit init``: write a starter config for a folder of exports and say what each page can show."""
    from kit.onboard import OnboardError, default_config_path, init_project

    out = args.out or default_config_path(args.raw)
    try:
        result = init_project(args.raw, out, args.project, args.currency, args.timezone, force=args.force)
    except OnboardError as exc:
        raise CommandError(str(exc)) from exc
    print("\n".join(result.lines))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """``kit check``: 0 when a run can proceed, 1 (with the problems) when not."""
    from kit.onboard import check_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"kit check: NOT READY: the config does not load: {exc}")
        return EXIT_FAILED
    report = check_config(config)
    print("\n".join(report.lines))
    return EXIT_OK if report.ok else EXIT_FAILED


COMMANDS = {
    "run": cmd_run, "demo-data": cmd_demo_data, "lab": cmd_lab, "bench": cmd_bench, "init": cmd_init,
    "check": cmd_check,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kit`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, CommandError) as exc:
        print(f"kit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"kit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
