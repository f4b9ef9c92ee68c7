"""Runners by name: what a sweep can run. A runner trains one config into its run
directory (resumable, skipping itself when done) and turns run directories into
one table. `train` is training.run; the pruning loop registers here too.
"""
import dataclasses
from typing import Callable, Iterable, Optional

import pandas as pd

from keras_initstudy import errors, rundir
from keras_initstudy.registry import Registry


@dataclasses.dataclass(frozen=True)
class Runner:
    name: str
    config_class: type  # config.ExperimentConfig or a subclass with the runner's own sections
    run: Callable[..., str]  # run(cfg, verbose=0, dataset=None) -> run_dir
    table: Callable[[Iterable[str]], pd.DataFrame]  # run dirs -> one row per run and epoch (or round)
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
    from keras_initstudy import config, training
    from keras_initstudy.analysis import runs
    return Runner("train", config.ExperimentConfig, training.run, runs.table, after_run=runs.fits)


@register("prune")
def _prune() -> Runner:
    from keras_initstudy.pruning import config, layout, rounds
    return Runner("prune", config.PruneExperimentConfig, rounds.run, rounds.table, is_complete=layout.is_complete)
