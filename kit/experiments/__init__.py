"""Experiment readout: catalog, per-user metrics, statistics, decision and report page.

Modules: ``catalog`` (experiment metadata YAML), ``metrics`` (per-user metrics and their
sufficient statistics in DuckDB), ``stats`` (tests, CUPED, SRM, corrections, sequential,
Bayesian, power), ``decision`` (ship / do not ship / keep running / investigate),
``readout`` (one experiment end to end), ``units`` (one metric read out on a DataFrame of
units, for kit.frames), ``pipeline`` (the stage entry: every experiment
of the month, ``run``) and ``page`` (the 06_experiment_readout page). Timing on synthetic
data lives in kit.bench.experiments.
"""

from kit.experiments.catalog import CatalogError, Experiment, load_catalog
from kit.experiments.readout import Readout, Settings, analyse, read_out
from kit.experiments.units import UnitsReadout, analyse_units

__all__ = [
    "CatalogError", "Experiment", "Readout", "Settings", "UnitsReadout", "analyse", "analyse_units", "load_catalog", "read_out",
]
