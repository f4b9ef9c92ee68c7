"""Runners by name: what a sweep can run. A runner trains one config into its run
directory (resumable, skipping itself when done) and turns run directories into
one table. `train` is training.run; the pruning loop registers here too.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Optional

from keras_initstudy import errors, lazy, rundir
from keras_initstudy.registry import Registry


@dataclasses.dataclass(frozen=True)
class Runner:
    name: str
    config_class: type  # config.ExperimentConfig or a subclass with the runner's own sections
    run: Callable[..., str]  # run(cfg, verbose=0, dataset=None) -> run_dir
    table: Callable[[Iterable[str]], "pandas.DataFrame"]  # run dirs -> one row per run and epoch (or round)
    after_run: Optional[Callable[[str], object]] = None  # e.g. cache a run's analysis in its directory
    # (cfg, run_dir) -> nothing left to do; a pruning run asked for new branches is not complete
    is_complete: Callable[[object, str], bool] = lambda cfg, run_dir: rundir.is_done(run_dir)


RUNNERS: Registry[Callable[[], Runner]] = Registry("runner", errors.UserError)


def register(name: str):
    """Decorator for a function returning the Runner (imports stay lazy: Ray workers
    and the sweep import TensorFlow only when a run needs it)."""
    return RUNNERS.register(name)


def names():
    return RUNNERS.names()


def get(name: str) -> Runner:
    return RUNNERS.get(name)()


def config_class(name: str) -> type:
    return get(name).config_class


@register("train")
def _train() -> Runner:
    from keras_initstudy import config
    training, runs = lazy.module("keras_initstudy.training"), lazy.module("keras_initstudy.analysis.runs")
    return Runner("train", config.ExperimentConfig, lambda *a, **k: training.run(*a, **k),
                  lambda *a, **k: runs.table(*a, **k), after_run=lambda *a, **k: runs.fits(*a, **k))


@register("prune")
def _prune() -> Runner:
    from keras_initstudy.pruning import config, layout
    rounds = lazy.module("keras_initstudy.pruning.rounds")
    return Runner("prune", config.PruneExperimentConfig, lambda *a, **k: rounds.run(*a, **k),
                  lambda *a, **k: rounds.table(*a, **k), is_complete=layout.is_complete)
