"""Runners by name: what a sweep can run. A runner trains one config into its run
directory (resumable, skipping itself when done) and turns run directories into
one table. `train` is train_runner's; the pruning loop registers here too. Every runner
goes through the one run lifecycle (lifecycle.py): `run` trains one config, `run_all`
several alike but for their seeds, as one seed ensemble.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Callable, Iterable, Optional

from keras_initstudy import errors, rundir
from keras_initstudy.registry import Registry

if TYPE_CHECKING:
    import pandas


@dataclasses.dataclass(frozen=True)
class Runner:
    name: str
    config_class: type  # config.ExperimentConfig or a subclass with the runner's own sections
    run: Callable[..., str]  # run(cfg, verbose=0, dataset=None) -> run_dir
    run_all: Callable[..., list]  # run_all(cfgs, verbose=0, dataset=None) -> per config, its run_dir or error
    table: Callable[[Iterable[str]], "pandas.DataFrame"]  # run dirs -> one row per run and epoch (or round)
    after_run: Optional[Callable[[str], object]] = None  # e.g. cache a run's analysis in its directory
    # (cfg, run_dir) -> nothing left to do; a pruning run asked for new branches is not complete
    is_complete: Callable[[object, str], bool] = lambda cfg, run_dir: rundir.at(run_dir).is_done()


@dataclasses.dataclass(frozen=True)
class Registration:
    """What is known of a runner without importing TensorFlow."""

    config_class_path: str  # 'module:Class', importable without TensorFlow
    factory: Callable[[], Runner]  # may import TensorFlow: called only when a run needs it
    ensembles: bool  # whether seeds can train together as one ensemble (run_all stacks them)


RUNNERS: Registry[Registration] = Registry("runner", errors.UserError)


def register(name: str, config_class_path: str, ensembles: bool = False):
    """Decorator for a function returning the Runner, which may import TensorFlow: it runs
    only when a run needs it. The config class ('module:Class') must import without
    TensorFlow: binaries define their flags from it before checking them."""
    def add(factory: Callable[[], Runner]) -> Callable[[], Runner]:
        RUNNERS.add(name, Registration(config_class_path, factory, ensembles))
        return factory
    return add


def names():
    return RUNNERS.names()


def get(name: str) -> Runner:
    return RUNNERS.get(name).factory()


def ensembles(name: str) -> bool:
    """Whether runner `name` trains seeds together (no TensorFlow imported)."""
    return RUNNERS.get(name).ensembles


def config_class(name: str) -> type:
    module, cls = RUNNERS.get(name).config_class_path.split(":")
    return getattr(importlib.import_module(module), cls)


@register("train", "keras_initstudy.config:ExperimentConfig", ensembles=True)
def _train() -> Runner:
    from keras_initstudy import config, train_runner
    from keras_initstudy.analysis import runs
    return Runner("train", config.ExperimentConfig, train_runner.run, train_runner.run_all, runs.table,
                  after_run=runs.fits)


@register("prune", "keras_initstudy.pruning.config:PruneExperimentConfig", ensembles=True)
def _prune() -> Runner:
    from keras_initstudy.pruning import config, layout, rounds
    return Runner("prune", config.PruneExperimentConfig, rounds.run, rounds.run_all, rounds.table,
                  is_complete=layout.is_complete)
