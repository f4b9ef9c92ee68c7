"""The train runner: configs trained into their run directories through the lifecycle.

    run_dir = train_runner.run(cfg)                                   # one run
    outcomes = train_runner.run_all([cfg.replace(seed=s) for s in range(10)])  # a seed ensemble

A finished run (DONE present) is left alone. An interrupted one resumes from its last
checkpoint (any step), bit-identically with op determinism. A run's instruments are
those of the command that started it: a finished run asked for with other instruments
records nothing new and says so; an unfinished one refuses, so its files never mix
two sets of instruments (lifecycle.already_done).
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence

import keras

from keras_initstudy import config as config_lib
from keras_initstudy import datasets, lifecycle, training
from keras_initstudy.ensemble import grouping, strategy


class TrainKind(lifecycle.RunKind):
    """Paper 000's training run: schedule, the model and its instruments built before the
    run directory exists (a bad setting leaves no stub), trained, then model and summary."""

    name = "train"

    def schedule(self, cfg: config_lib.ExperimentConfig, data: datasets.Dataset):
        return training.schedule(cfg, data)

    def prepare(self, member: lifecycle.MemberRun, schedule) -> strategy.PreparedRun:
        per_epoch, end = schedule
        spec, measurements = training.build_instrumented(member.cfg, member.data, member.run_dir, per_epoch, end)
        return strategy.PreparedRun(member.cfg, member.data, member.run_dir, spec, measurements, end)

    def train(self, members: Sequence[lifecycle.MemberRun], prepared: Dict[int, Any], schedule,
              execution: lifecycle.Execution) -> None:
        per_epoch, _ = schedule
        strategy.train([prepared[m.index] for m in members], per_epoch, execution)

    def close(self, member: lifecycle.MemberRun, prepared: strategy.PreparedRun) -> None:
        training.finish(member.run_dir, prepared.spec.model)


KIND = TrainKind()


def run(cfg: config_lib.ExperimentConfig, extra_callbacks: Iterable[keras.callbacks.Callback] = (),
        verbose: int = 1, dataset: Optional[datasets.Dataset] = None) -> str:
    """Trains `cfg` into its run directory and returns the directory. `extra_callbacks` see
    the model as it trains; `dataset` skips loading when the caller already holds it."""
    return lifecycle.run_one(KIND, cfg, lifecycle.Execution(verbose, callbacks=tuple(extra_callbacks)), dataset)


def run_all(cfgs: Sequence[config_lib.ExperimentConfig], verbose: int = 0, dataset: Optional[datasets.Dataset] = None,
            ensemble_callbacks: Sequence[keras.callbacks.Callback] = ()) -> List[lifecycle.Outcome]:
    """Trains configs alike but for their seeds as one seed ensemble; per config, its run
    directory or the error that stopped it. `ensemble_callbacks` see the ensemble model."""
    grouping.check_alike(cfgs)
    return lifecycle.run(KIND, cfgs, lifecycle.Execution(verbose, ensemble_callbacks=tuple(ensemble_callbacks)),
                         dataset)
