"""One run lifecycle, for every runner and any number of members (a single run is K = 1).

    outcomes = lifecycle.run(kind, [cfg.replace(seed=s) for s in range(10)])  # run dirs (or errors)

The steps, written once here and nowhere else:
  1. done check, per member: a complete run is skipped and says so; an unfinished run asked
     for with other instruments than it was started with is refused (instrument_changes);
  2. once for all members: op determinism, the data, the schedule (the checks that need no
     directory fail here, before anything is written);
  3. per member, still before any directory exists: what the kind prepares (the train
     kind builds the model and its instruments, so a bad setting leaves no stub);
  4. per member: the run directory's lock (one writer per directory; a run another process
     holds is left to it, its outcome that error), the done check again (finished by the
     process we waited for), stale temporaries cleared, settings, environment, data sizes;
  5. the kind trains the opened members (together as a seed ensemble, or one by one);
  6. per member: the kind's last files, then DONE.

A kind (RunKind) says only what differs between runners: what "pending" means, the
schedule, what to prepare, how to train and how to finish. Which members train together
is the execution strategy (`together`), not a second copy of the runner.
"""
import abc
import contextlib
import dataclasses
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import keras
from absl import logging

from keras_initstudy import config as config_lib
from keras_initstudy import datasets, determinism, errors, rundir, seeds

Outcome = Union[str, Exception]  # a member's run directory, or the error that stopped it


@dataclasses.dataclass(frozen=True)
class Execution:
    """How the members train: `together` stacks those at the same step into one seed ensemble
    (ensemble/), else each trains alone; `callbacks` see each member's own model (a single
    run only), `ensemble_callbacks` the ensemble model."""

    verbose: int = 0
    together: bool = True
    callbacks: Sequence[keras.callbacks.Callback] = ()
    ensemble_callbacks: Sequence[keras.callbacks.Callback] = ()


@dataclasses.dataclass(frozen=True)
class MemberRun:
    """One member of the lifecycle: its index among the configs, its config, run directory and data."""

    index: int
    cfg: config_lib.ExperimentConfig
    run_dir: rundir.RunDir
    data: datasets.Dataset


class RunKind(abc.ABC):
    """What one runner does inside the lifecycle."""

    name: str

    def pending(self, cfg: config_lib.ExperimentConfig, run_dir: str) -> bool:
        """Whether the run has something to do (says so when it has not)."""
        return not already_done(cfg, run_dir)

    @abc.abstractmethod
    def schedule(self, cfg: config_lib.ExperimentConfig, data: datasets.Dataset) -> Any:
        """The members' shared schedule; raises UserError on a setting that cannot run."""

    def prepare(self, member: MemberRun, schedule: Any) -> Any:
        """Per member, before its directory exists (default: nothing)."""
        return None

    def open(self, member: MemberRun) -> bool:
        """With the member's lock held: False when it is complete (finished by the process we
        waited for); otherwise records its settings and returns True."""
        if already_done(member.cfg, member.run_dir):
            return False
        start_writing(member.run_dir, member.cfg, member.data)
        return True

    @abc.abstractmethod
    def train(self, members: Sequence[MemberRun], prepared: Dict[int, Any], schedule: Any,
              execution: Execution) -> None:
        """Trains the opened members (prepared: by member index)."""

    @abc.abstractmethod
    def close(self, member: MemberRun, prepared: Any) -> None:
        """A trained member's last files, DONE last."""


def run(kind: RunKind, cfgs: Sequence[config_lib.ExperimentConfig], execution: Execution = Execution(),
        dataset: Optional[datasets.Dataset] = None) -> List[Outcome]:
    """Runs every config through the lifecycle (module docstring); per config, its run
    directory or the error that stopped it (another process writing it)."""
    if execution.callbacks and len(cfgs) != 1:
        raise ValueError("per-member callbacks need a single run: each member needs its own instances")
    outcomes: Dict[int, Outcome] = {}
    todo: List[int] = []
    run_dirs = [rundir.path_for(cfg) for cfg in cfgs]
    for i, cfg in enumerate(cfgs):
        if not kind.pending(cfg, run_dirs[i]):
            outcomes[i] = run_dirs[i]
        elif any(run_dirs[i] == run_dirs[j] for j in todo):
            raise errors.UserError(f"two members are one run: {run_dirs[i]}")
        else:
            todo.append(i)
    if todo:
        first = cfgs[todo[0]]
        determinism.set_op_determinism(first.training.op_determinism())
        data = member_data(cfgs, todo, dataset)
        schedule = kind.schedule(first, data[todo[0]])
        members = [MemberRun(i, cfgs[i], run_dirs[i], data[i]) for i in todo]
        prepared = {m.index: kind.prepare(m, schedule) for m in members}
        with contextlib.ExitStack() as locks:
            opened = []
            for m in members:
                try:
                    locks.enter_context(rundir.writer_lock(m.run_dir, wait=m.cfg.run.wait_for_lock))
                except rundir.RunInProgress as e:
                    outcomes[m.index] = e
                    continue
                if kind.open(m):
                    opened.append(m)
                else:
                    outcomes[m.index] = m.run_dir
            kind.train(opened, prepared, schedule, execution)
            for m in opened:
                kind.close(m, prepared[m.index])
                outcomes[m.index] = m.run_dir
    return [outcomes[i] for i in range(len(cfgs))]


def run_one(kind: RunKind, cfg: config_lib.ExperimentConfig, execution: Execution = Execution(),
            dataset: Optional[datasets.Dataset] = None) -> str:
    """A single run (K = 1): its run directory; another process writing it is raised (RunInProgress)."""
    (outcome,) = run(kind, [cfg], dataclasses.replace(execution, together=False), dataset)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def load_data(cfg: config_lib.ExperimentConfig, dataset: Optional[datasets.Dataset] = None) -> datasets.Dataset:
    """The run's dataset (`dataset` when the caller holds it), normalised by --normalize,
    padded by --pad_to, with --validation_split held out."""
    data = dataset or datasets.load(cfg.data.dataset, cfg.data.data_dir, cfg.data.download)
    if cfg.data.normalize == "per_channel":
        data = datasets.normalize_channels(data)
    elif cfg.data.normalize != "none":
        data = datasets.normalize_constants(data, cfg.data.normalize)
    if cfg.data.pad_to:
        data = datasets.pad_to(data, cfg.data.pad_to)
    if cfg.data.validation_split:
        data = datasets.hold_out(data, cfg.data.validation_split, seeds.derive(cfg.training.seeds.data, "validation"))
    return data


def member_data(cfgs: Sequence[config_lib.ExperimentConfig], todo: Sequence[int],
                dataset: Optional[datasets.Dataset] = None) -> Dict[int, datasets.Dataset]:
    """Each member's data: one copy for all, unless hold-outs follow each member's data seed."""
    first = cfgs[todo[0]]
    base = dataset or datasets.load(first.data.dataset, first.data.data_dir, first.data.download)
    shared = None if first.data.validation_split else load_data(first, base)
    return {i: shared if shared is not None else load_data(cfgs[i], base) for i in todo}


def start_writing(run_dir: str, cfg: config_lib.ExperimentConfig, data: datasets.Dataset) -> None:
    """What every member does first once it holds its lock: clear a killed writer's
    temporaries, then record the settings, the environment and the data sizes."""
    run_dir = rundir.at(run_dir)
    rundir.remove_stale_temporaries(run_dir)
    rundir.write_settings(run_dir, cfg)
    rundir.write_json(run_dir.environment, determinism.environment(cfg.training.mechanism()))
    rundir.write_json(run_dir.data_sizes, data_sizes(data))


def data_sizes(data: datasets.Dataset) -> dict:
    """What data.json records: the examples each split holds."""
    return {"train": len(data.train), "validation": len(data.validation) if data.validation is not None else 0,
            "test": len(data.test)}


def recorded_instruments(run_dir: str) -> Optional[dict]:
    """The instrument settings a run directory was started with (None if it has none)."""
    path = rundir.at(run_dir).config
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("measure")


def instrument_changes(cfg: config_lib.ExperimentConfig, run_dir: str) -> List[str]:
    """'name: recorded -> asked' for each instrument setting that differs from the run's.
    A setting the run's config.json predates counts as its default (it did not exist)."""
    recorded = recorded_instruments(run_dir)
    if recorded is None:
        return []
    recorded = {**dataclasses.asdict(config_lib.MeasureConfig()), **recorded}
    return [f"{k}: {recorded.get(k)!r} -> {v!r}" for k, v in cfg.instruments().items() if recorded.get(k) != v]


def check_instruments(cfg: config_lib.ExperimentConfig, run_dir: str, action: str) -> None:
    """Refuses to add to a run (resume it, add branches) with other instruments than it was
    started with, so its files never mix two sets of instruments."""
    changes = instrument_changes(cfg, run_dir)
    if changes:
        raise errors.UserError(f"{run_dir} was started with other instruments ({'; '.join(changes)}): {action} "
                               f"with the same instrument flags, or use another --experiment")


def already_done(cfg: config_lib.ExperimentConfig, run_dir: str) -> bool:
    """True (and says so) when the run is complete; refuses to resume an unfinished run
    with other instruments than it was started with."""
    if rundir.at(run_dir).is_done():
        changes = instrument_changes(cfg, run_dir)
        note = (f" (it was recorded with other instruments: {'; '.join(changes)}; nothing new is recorded: "
                f"use another --experiment to train a separate run with these)" if changes else "")
        logging.info("run already complete, nothing to do: %s", run_dir)
        print(f"run already complete: {run_dir}{note}")
        return True
    check_instruments(cfg, run_dir, "resume it")
    return False
