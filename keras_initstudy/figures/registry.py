"""The figures by name, and the one input convention they share.

    @figure("jesus2021/fig5", "RMSD and loss vs epoch", inputs=TABLES)
    def fig5(inputs: Inputs, options) -> matplotlib.figure.Figure: ...

Every figure reads `Inputs`: comma-separated paths or glob patterns, each a sweep table
(.csv or .parquet), a run directory (it holds config.json), or an output folder (its run
directories). A figure says which kind it needs (TABLES, RUNS or both); options are its own,
declared with their defaults and help (Option), and become flags of the entry point
(python -m keras_initstudy.figures NAME). A figure returns a matplotlib figure, or text
(a report printed, or written when --out ends in .txt). No TensorFlow here.
"""
import dataclasses
import glob
import os
from typing import Any, Callable, Dict, List, Sequence, Tuple

import pandas as pd

from keras_initstudy import errors, rundir
from keras_initstudy.registry import Registry

TABLES = "tables"  # sweep tables (.csv, .parquet)
RUNS = "runs"  # run directories (or output folders holding them)
TABLES_AND_RUNS = "tables and runs"  # either or both
TABLE_SUFFIXES = (".csv", ".parquet")


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a figure: a flag of the entry point."""

    name: str
    default: Any
    help: str
    choices: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str  # author-year/figure, e.g. jesus2021/fig5
    title: str
    inputs: str  # TABLES, RUNS or TABLES_AND_RUNS
    draw: Callable[["Inputs", Any], Any]
    options: Tuple[Option, ...] = ()

    def defaults(self) -> Dict[str, Any]:
        return {o.name: o.default for o in self.options}


FIGURES: Registry[Figure] = Registry("figure", errors.UserError)


def figure(name: str, title: str, inputs: str, options: Sequence[Option] = ()):
    """Registers the decorated function as figure `name`."""
    if inputs not in (TABLES, RUNS, TABLES_AND_RUNS):
        raise ValueError(f"inputs must be {TABLES!r}, {RUNS!r} or {TABLES_AND_RUNS!r}, got {inputs!r}")

    def add(draw):
        FIGURES.add(name, Figure(name, title, inputs, draw, tuple(options)))
        return draw
    return add


def expand(spec: str) -> List[str]:
    """Comma-separated paths or glob patterns -> the sorted, distinct paths (a pattern that
    matches nothing stays as given, so the check that follows names it)."""
    return sorted({p for part in spec.split(",") if part for p in (glob.glob(part) or [part])})


class Inputs:
    """A figure's inputs, by the one convention (module docstring)."""

    def __init__(self, spec: str):
        self.spec = spec
        self.paths = expand(spec)
        if not self.paths:
            raise errors.UserError("no inputs given (--inputs=tables, run directories or output folders)")

    def has_tables(self) -> bool:
        return any(p.endswith(TABLE_SUFFIXES) for p in self.paths)

    def has_runs(self) -> bool:
        return any(not p.endswith(TABLE_SUFFIXES) for p in self.paths)

    def table_paths(self) -> List[str]:
        found = [p for p in self.paths if p.endswith(TABLE_SUFFIXES)]
        if not found:
            raise errors.UserError(f"no sweep table (.csv, .parquet) in --inputs={self.spec}; run "
                                   "keras_initstudy.sweep first")
        return found

    def table(self, dedup: Sequence[str] = ("run_name", "epoch", "round", "branch")) -> pd.DataFrame:
        """Every table's rows; a run in two sweeps (the same run_name) counts once."""
        from keras_initstudy.figures import common
        table = pd.concat([common.read_table(p) for p in self.table_paths()], ignore_index=True)
        keys = [k for k in dedup if k in table]
        return table.drop_duplicates(subset=keys) if "run_name" in table else table

    def run_dirs(self, needs: Callable[[rundir.RunDir], str] = None, hint: str = "") -> List[rundir.RunDir]:
        """The run directories given, or found in the output folders given; with `needs` (a
        RunDir's file, e.g. lambda d: d.telemetry), only those that have it, and at least one."""
        found = []
        for path in self.paths:
            if path.endswith(TABLE_SUFFIXES):
                continue
            if not os.path.isdir(path):
                raise errors.UserError(f"no run directory at {path}")
            found.extend([rundir.at(path)] if os.path.exists(rundir.at(path).config) else rundir.runs_in(path))
        if needs is not None:
            found = [d for d in found if os.path.exists(needs(d))]
        if not found:
            raise errors.UserError(f"no run directory{' with ' + hint if hint else ''} in --inputs={self.spec}")
        return sorted(dict.fromkeys(found))
