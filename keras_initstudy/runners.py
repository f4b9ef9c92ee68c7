"""Runners by name: what a sweep can run. A runner trains one config into its run
directory (resumable, skipping itself when done) and turns run directories into
one table. `train` is training.run; the pruning loop registers here too.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import TYPE_CHECKING, Callable, Iterable, Optional, Tuple

from keras_initstudy import errors, rundir
from keras_initstudy.registry import Registry

if TYPE_CHECKING:
    import pandas


@dataclasses.dataclass(frozen=True)
class Runner:
    name: str
    config_class: type  # config.ExperimentConfig or a subclass with the runner's own sections
    run: Callable[..., str]  # run(cfg, verbose=0, dataset=None) -> run_dir
    table: Callable[[Iterable[str]], "pandas.DataFrame"]  # run dirs -> one row per run and epoch (or round)
    after_run: Optional[Callable[[str], object]] = None  # e.g. cache a run's analysis in its directory
    # (cfg, run_dir) -> nothing left to do; a pruning run asked for new branches is not complete
    is_complete: Callable[[object, str], bool] = lambda cfg, run_dir: rundir.is_done(run_dir)


# name -> ('module:ConfigClass', function returning the Runner)
RUNNERS: Registry[Tuple[str, Callable[[], Runner]]] = Registry("runner", errors.UserError)


def register(name: str, config_class_path: str):
    """Decorator for a function returning the Runner, which may import TensorFlow: it runs
    only when a run needs it. The config class ('module:Class') must import without
    TensorFlow: binaries define their flags from it before checking them."""
    def add(factory: Callable[[], Runner]) -> Callable[[], Runner]:
        RUNNERS.add(name, (config_class_path, factory))
        return factory
    return add


def names():
    return RUNNERS.names()


def get(name: str) -> Runner:
    return RUNNERS.get(name)[1]()


def config_class(name: str) -> type:
    module, cls = RUNNERS.get(name)[0].split(":")
    return getattr(importlib.import_module(module), cls)


@register("train", "keras_initstudy.config:ExperimentConfig")
def _train() -> Runner:
    from keras_initstudy import config, training
    from keras_initstudy.analysis import runs
    return Runner("train", config.ExperimentConfig, training.run, runs.table, after_run=runs.fits)


@register("prune", "keras_initstudy.pruning.config:PruneExperimentConfig")
def _prune() -> Runner:
    from keras_initstudy.pruning import config, layout, rounds
    return Runner("prune", config.PruneExperimentConfig, rounds.run, rounds.table, is_complete=layout.is_complete)
