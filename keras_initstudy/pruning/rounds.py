"""The pruning-with-rewind loop (iterative magnitude pruning, Frankle & Carbin 2019 §2).

Round 0 trains the dense network from w(0), keeping the state at the rewind step k.
Round r > 0 prunes `prune_fraction` of the weights that survived round r-1, by
magnitude at the end of round r-1 (strategies.py); resets the survivors to their
values at step k (k = 0: w(0)) and the optimizer to its state at k; and trains again
from k to the end of the schedule. Pruned weights stay exactly zero (masks.py).

--reinit re-initialises the rewound survivors at every round's start (perturb.py), so
the next mask comes from that training; --branches instead trains, once per round r >= 1,
a re-initialised copy on round r's mask without changing the trunk (open_lth's lottery
branches: paper 004 Figs. 4 and 5). --pretrain first trains on an altered task and
rewinds to its end (pretraining.py).

    <run_dir>/round-NN/   mask.npz, final.npz (weights at the end of the round),
                          history.csv, tb/, checkpoint/, round.json, DONE
    <run_dir>/round-NN/branches/NAME/  the same files for branch NAME (no mask.npz)
    <run_dir>/round-00/savepoints/   the state at the rewind step (with --noreset_optimizer:
                                     its weights alone, in round-00/snapshots/)
    <run_dir>/pretrain/   the altered-task pre-training (round-NN/pretrain/ when sparse)
    <run_dir>/summary.csv, .parquet  one row per round and branch (pandas); DONE

Each round and branch is skipped when its DONE exists, so a killed loop resumes in the
round it was in, from that round's last checkpoint.
"""
import dataclasses
import json
import os
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence

import keras
import numpy as np
import pandas as pd
from absl import logging

from keras_initstudy import (callbacks as callbacks_lib, datasets, errors, initializers, lifecycle, models, rundir,
                             seeds, steps, training, training_state)
from keras_initstudy.callbacks.snapshots import variable_name, weights_by_path
from keras_initstudy.pruning import masks as masks_lib
from keras_initstudy.ensemble import grouping, strategy
from keras_initstudy.pruning import perturb, pretraining, strategies
from keras_initstudy.pruning.layout import pending_branches
from keras_initstudy.pruning.config import PruneExperimentConfig


def assign_by_name(model: keras.Model, values: dict) -> None:
    """Sets every trainable variable of the model from {'hidden_1/kernel': array}."""
    for variable in model.trainable_weights:
        variable.assign(values[variable_name(model, variable)])


def next_masks(cfg: PruneExperimentConfig, run_dir: str, r: int, output_layer: str) -> dict:
    """Round r's masks: round r-1's, pruned by magnitude at the end of round r-1."""
    previous = rundir.at(run_dir).round(r - 1)
    old = masks_lib.load(previous.mask)
    final = rundir.read_npz(previous.final_weights)
    p = cfg.pruning
    strategy = strategies.STRATEGIES.get(p.strategy)(p.prune_fraction, p.output_fraction(), p.prune_rounding)
    return strategy.prune({n: final[n] for n in old}, old, output_layer)


def perturb_survivors(cfg: PruneExperimentConfig, masks: masks_lib.Masks, name: str, initial: dict,
                      r: int, spec=None, info=None) -> None:
    """Replaces the rewound values of every masked kernel by re-initialisation `name`
    (perturb.py), keeping the mask; its random draws are seeded by round and layer (a
    fresh draw comes from the model's --kernel_initializer). random_model replaces every
    weight of `spec`'s model by a fresh model's (built for `info`), then masks it."""
    if name in perturb.MODEL_LEVEL:
        fresh = fresh_model_weights(cfg, info, r)
        for variable in spec.model.weights:
            variable.assign(fresh[variable_name(spec.model, variable)])
        masks.apply()
        return
    arrays = masks.numpy()
    for weight, variable in masks.variables.items():
        if not weight.endswith("/kernel"):
            continue
        seed = seeds.derive(cfg.training.seeds.init, "reinit", r, weight)
        fresh = (np.asarray(initializers.from_spec(cfg.model.kernel_initializer, seed)(variable.shape,
                                                                                        dtype=variable.dtype))
                 if name in perturb.FRESH_DRAWS else None)
        variable.assign(perturb.apply(name, variable.numpy(), initial[weight], fresh, arrays[weight],
                                      np.random.default_rng(seed)))
    masks.apply()


def fresh_model_weights(cfg: PruneExperimentConfig, info, r: int) -> dict:
    """{weight path: value} of a newly built model (every weight, batch norm's statistics too),
    its init seed derived from the run's and the round: open_lth's randomly_reinitialize."""
    seeds_ = models.Seeds(init=seeds.derive(cfg.training.seeds.init, "random_model", r), data=cfg.training.seeds.data)
    model = models.build(cfg.model, info, seeds_).model
    return {variable_name(model, v): v.numpy() for v in model.weights}


def check_reinitialisations(cfg: PruneExperimentConfig, info) -> None:
    """Fails before any training if the model cannot take --reinit or a branch: a fresh
    draw needs a model with one --kernel_initializer, a permutation the right kernels."""
    names = {cfg.pruning.reinit, *cfg.pruning.branch_names()} - {"none"}
    draws = sorted(names & set(perturb.FRESH_DRAWS))
    if draws and not hasattr(cfg.model, "kernel_initializer"):
        raise errors.UserError(f"{', '.join(draws)} draw from the model's --kernel_initializer, which "
                               f"{cfg.model.name} does not have (its layers each set their own)")
    if names:
        spec = models.build(cfg.model, info, cfg.training.seeds)  # for its kernels' shapes: not compiled
        shapes = {n: tuple(v.shape) for n, v in spec.kernel_variables(spec.prunable).items()}
        for name in sorted(names):
            perturb.check(name, shapes)
        keras.backend.clear_session()


def start_round(cfg: PruneExperimentConfig, run_dir: str, r: int, spec, masks: masks_lib.Masks, rewind: int,
                per_epoch: int, reinit: str, info=None) -> int:
    """Puts round r's model at its starting state (the rewind point, re-initialised by
    `reinit`); returns its optimizer step. The model holds w(0) when called."""
    first = rundir.at(run_dir).round(0)
    if r == 0:
        return 0
    initial = {name: variable.numpy() for name, variable in masks.variables.items()}
    if cfg.pruning.reset_optimizer:
        start = callbacks_lib.load_save_point(spec.model, first.save_points, rewind)
        if cfg.pruning.rewind_optimizer == "fresh":
            clear_optimizer_buffers(spec.model.optimizer)
    else:  # keep the optimizer where the previous round left it; rewind the weights only
        previous = rundir.at(run_dir).round(r - 1)
        start = training_state.load(spec.model, previous, "final_state")
        assign_by_name(spec.model, rundir.read_npz(first.snapshot_at(steps.Step(rewind, per_epoch))))
    if cfg.pruning.rewind == "torch_default_init":
        assign_torch_default_kernels(cfg, spec)
    masks.apply()
    if reinit != "none":
        perturb_survivors(cfg, masks, reinit, initial, r, spec, info)
    return start


def clear_optimizer_buffers(optimizer) -> None:
    """A new optimizer at the restored step: every per-weight buffer (momentum, Adam's moments)
    zero; the step count, and with it the learning-rate schedule, stays at k. open_lth's
    rewinding loads w(k) into a model trained with a new optimizer whose schedule starts
    at k (paper 004). Keras's Adam corrects its moments' bias by the step count, so a
    fresh Adam here corrects as if at step k; paper 004's networks train with SGD."""
    keep = {id(optimizer.iterations), id(getattr(optimizer, "_learning_rate", None))}
    for variable in optimizer.variables:
        if id(variable) not in keep and "float" in str(variable.dtype):
            variable.assign(np.zeros(variable.shape, variable.dtype))


def torch_default_kernels(cfg: PruneExperimentConfig, spec) -> dict:
    """{kernel path: PyTorch's default draw U(+-1/sqrt(fan_in))}, seeded by the init seed and the
    layer only, so every --kernel_initializer of one seed gets the same draw. Paper 003's
    LeNet.__init__ saves its weights (PyTorch's default draw) before main.py applies the
    studied initialisation, and reset_weights restores that saved draw every round."""
    return {name: np.asarray(initializers.TorchDefault(seed=seeds.derive(cfg.training.seeds.init,
                                                                         "torch_default_init", name))(
                tuple(variable.shape), dtype=variable.dtype))
            for name, variable in spec.kernel_variables().items()}


def assign_torch_default_kernels(cfg: PruneExperimentConfig, spec) -> None:
    draws = torch_default_kernels(cfg, spec)
    for name, variable in spec.kernel_variables().items():
        variable.assign(draws[name])


def accuracy_on(model: keras.Model, cfg: PruneExperimentConfig, split) -> float:
    """The model's accuracy on `split` (in inference mode), in the run's evaluation batches."""
    return float(model.evaluate(training.eval_batches(cfg, split), verbose=0)[1])


def round_masks(cfg: PruneExperimentConfig, run_dir: str, r: int, masks: masks_lib.Masks, output_layer: str) -> None:
    """Loads round r's mask into `masks`, computing and saving it first if it is new."""
    path = rundir.at(run_dir).round(r).mask
    if not masks_lib.exists(path):
        new = ({n: np.ones(v.shape, bool) for n, v in masks.variables.items()} if r == 0
               else next_masks(cfg, run_dir, r, output_layer))
        masks_lib.save(path, new)
    masks.assign(masks_lib.load(path))


def train_round(members: Sequence[lifecycle.MemberRun], r: int, branch: Optional[str], schedule: "Schedule",
                execution: lifecycle.Execution) -> None:
    """Round r of the IMP trunk (into round-NN/), or with `branch` (a re-initialisation) one
    training on round r's mask and rewind state (into round-NN/branches/NAME/), of every
    member: each prepared as its single run prepares it, trained alone or together as the
    execution says, each finishing its own round."""
    where = (f"round {r + 1} of {members[0].cfg.pruning.rounds} ({os.path.basename(members[0].run_dir.round(r))})"
             if branch is None else f"round {r}, branch {branch}")
    print(where + (f": {len(members)} runs together" if len(members) > 1 and execution.together else ""))
    keras.backend.clear_session()
    plans = [prepare_round(m, r, branch, schedule, execution.verbose) for m in members]
    strategy.train([plan.run for plan in plans], schedule.per_epoch, execution)
    for plan in plans:
        finish_round(plan)


class Schedule(NamedTuple):
    """A pruning run's schedule, shared by its members: steps per epoch, the end of a round
    (its length from the start of training), the rewind step k."""

    per_epoch: int
    end: steps.Step
    rewind: int


@dataclasses.dataclass(frozen=True)
class RoundPlan:
    """One round (or branch) of one member, built, masked and rewound: what it trains and finishes."""

    run: strategy.PreparedRun
    masks: masks_lib.Masks
    r: int
    branch: Optional[str]


def prepare_round(member: lifecycle.MemberRun, r: int, branch: Optional[str], schedule: Schedule,
                  verbose: int = 0) -> RoundPlan:
    """Builds round r's model (or branch's), sets its mask and starting state (pre-training
    it first where asked), and lists its instruments."""
    cfg, run_dir, data = member.cfg, member.run_dir, member.data
    per_epoch, end, rewind = schedule.per_epoch, schedule.end, schedule.rewind
    directory = run_dir.round(r) if branch is None else run_dir.round(r).branch(branch)
    spec = training.build(cfg, data.info, per_epoch)  # w(0): the same draw every round
    masks = masks_lib.Masks.attach(spec, include_biases=cfg.pruning.prune_biases)
    round_masks(cfg, run_dir, r, masks, spec.output)
    pretrained = cfg.pruning.pretrain != "none"
    if pretrained and (r == 0 or cfg.pruning.sparse_pretrain):
        pretraining.pretrain(cfg, run_dir.pretraining(r), spec, masks, data, verbose)
        start = rewind  # open_lth's protocol: the main training starts at step = pre-training's length
        spec.model.optimizer.build(spec.model.trainable_variables)
        spec.model.optimizer.iterations.assign(start)
    else:
        start = start_round(cfg, run_dir, r, spec, masks, rewind, per_epoch,
                            cfg.pruning.reinit if branch is None else branch, data.info)
    # Round 0 trains 0..T and later ones T - k steps from the rewind point: k..T when the
    # optimizer is rewound too (start = k), on from the previous round's count when it is
    # kept (reset_optimizer off). After pre-training every round starts at k, its length
    # under open_lth's protocol (else 0), and ends at T.
    round_end = steps.Step(start + end.iteration - (rewind if r or pretrained else 0), per_epoch)
    reference = callbacks_lib.ReferenceWeights.of(spec, cfg.measure.rmsd_include_biases)  # w at the round's start
    measurements = training.measurement_callbacks(spec, cfg, directory, reference, round_end, data,
                                                  telemetry=r == 0 and branch is None)
    if r == 0:  # the rewind point, as start_round reads it: complete state, or the weights alone
        measurements.append(
            callbacks_lib.SavePoints(directory.save_points, [rewind]) if cfg.pruning.reset_optimizer
            else callbacks_lib.WeightSnapshots(directory, [steps.Step(rewind, per_epoch)]))
    return RoundPlan(strategy.PreparedRun(cfg, data, directory, spec, measurements, round_end, start), masks, r,
                     branch)


def finish_round(plan: RoundPlan) -> None:
    """A trained round's last files: final weights (and optimizer), round.json, DONE."""
    run = plan.run
    model = run.spec.model
    rundir.write_npz(run.directory.final_weights, weights_by_path(model))
    if not run.cfg.pruning.reset_optimizer and plan.branch is None:
        training_state.save(model, run.directory, "final_state", run.end.iteration)
    record = round_record(plan.r, run.directory, plan.masks, model, run.cfg, run.data, run.start, run.end)
    rundir.write_json(run.directory.round_record, {"branch": plan.branch or "trunk", **record})
    run.directory.mark_done()


def round_record(r: int, directory: str, masks: masks_lib.Masks, model: keras.Model, cfg: PruneExperimentConfig,
                 data: datasets.Dataset, start: int, end: steps.Step) -> dict:
    """What the summary table reports of one round."""
    counts = masks.counts()
    remaining = sum(c for c, _ in counts.values())
    total = sum(n for _, n in counts.values())
    history = pd.read_csv(rundir.at(directory).history)
    best = history.loc[history["test_accuracy"].idxmax()]
    record = {"round": r, "steps_per_epoch": end.steps_per_epoch, "start_step": start, "end_step": end.iteration,
              "weights_remaining": remaining, "weights_total": total, "fraction_remaining": remaining / total,
              "test_accuracy": float(history["test_accuracy"].iloc[-1]),
              "test_loss": float(history["test_loss"].iloc[-1]),
              "best_test_accuracy": float(best["test_accuracy"]), "best_epoch": float(best["epoch"]),
              "train_eval_accuracy": accuracy_on(model, cfg, data.train)}
    for name, (kept, size) in counts.items():
        record[f"remaining/{name}"] = kept
        record[f"fraction_remaining/{name}"] = kept / size
    for _, row in history.iterrows():
        record[f"test_accuracy/ep{row['epoch']:g}"] = float(row["test_accuracy"])
    return record


class PruneKind(lifecycle.RunKind):
    """The pruning-with-rewind loop in the lifecycle: rounds, then branches, each skipped when
    done; a finished run asked for new branches reopens for them."""

    name = "prune"

    def pending(self, cfg: PruneExperimentConfig, run_dir: str) -> bool:
        return bool(pending_branches(cfg, run_dir)) or not lifecycle.already_done(cfg, run_dir)

    def schedule(self, cfg: PruneExperimentConfig, data: datasets.Dataset) -> Schedule:
        """Checked before anything trains: the rewind step, re-initialisations, the pre-training task."""
        per_epoch, end = training.schedule(cfg, data)
        rewind = cfg.pruning.rewind_step(per_epoch)
        if rewind >= end.iteration:
            raise errors.UserError(f"--rewind={cfg.pruning.rewind} is step {rewind}, not before the end of a round "
                                   f"(step {end.iteration})")
        check_reinitialisations(cfg, data.info)
        pretraining.check_task(cfg.pruning.pretrain, cfg.pruning.pretrain_protocol, data.info)
        return Schedule(per_epoch, end, rewind)

    def open(self, member: lifecycle.MemberRun) -> bool:
        """Reopens a finished run asked for new branches (same instruments only)."""
        cfg, run_dir = member.cfg, member.run_dir
        pending = pending_branches(cfg, run_dir)
        if pending and run_dir.is_done():  # a finished run asked for new branches: only they train
            lifecycle.check_instruments(cfg, run_dir, "add branches")
            print(f"{run_dir}: adding branches {', '.join(sorted({name for _, name in pending}))}")
            run_dir.clear_done()
        elif lifecycle.already_done(cfg, run_dir):  # finished by the process we waited for
            return False
        lifecycle.start_writing(run_dir, cfg, member.data)
        return True

    def train(self, members: Sequence[lifecycle.MemberRun], prepared: Dict[int, Any], schedule: Schedule,
              execution: lifecycle.Execution) -> None:
        """Round by round, the members whose round is not done; then each branch asked for."""
        for r in range(members[0].cfg.pruning.rounds if members else 0):
            need = [m for m in members if not m.run_dir.round(r).is_done()]
            if len(need) < len(members):
                logging.info("round %d already done", r)
            if need:
                train_round(need, r, None, schedule, execution)
        pending = {m.index: pending_branches(m.cfg, m.run_dir) for m in members}
        for r, name in dict.fromkeys(p for m in members for p in pending[m.index]):  # in --branches order
            train_round([m for m in members if (r, name) in pending[m.index]], r, name, schedule, execution)

    def close(self, member: lifecycle.MemberRun, prepared: Any) -> None:
        close_run(member.run_dir)


KIND = PruneKind()


def run(cfg: PruneExperimentConfig, extra_callbacks: Iterable[keras.callbacks.Callback] = (), verbose: int = 1,
        dataset: Optional[datasets.Dataset] = None) -> str:
    """Runs every round not yet done, then writes the summary; returns the run directory.
    One process at a time writes a run directory (rundir.writer_lock)."""
    return lifecycle.run_one(KIND, cfg, lifecycle.Execution(verbose, callbacks=tuple(extra_callbacks)), dataset)


def run_all(cfgs: Sequence[PruneExperimentConfig], verbose: int = 0, dataset: Optional[datasets.Dataset] = None,
            ensemble_callbacks: Sequence[keras.callbacks.Callback] = ()) -> List[lifecycle.Outcome]:
    """The loop for seeds trained together: round by round, each member prepared exactly as
    its single run prepares it (its own mask, pruned by its own thresholds from its own
    previous round; its own rewind point, re-initialisation and pre-training), the round
    trained as one ensemble (each mask stacked as its slice: pruned weights stay exactly
    zero in every member), each member writing its own round's files."""
    grouping.check_alike(cfgs)
    return lifecycle.run(KIND, cfgs, lifecycle.Execution(verbose, ensemble_callbacks=tuple(ensemble_callbacks)),
                         dataset)


def close_run(run_dir: str) -> None:
    """Every round and branch trained: the summary table, then DONE."""
    run_dir = rundir.at(run_dir)
    summary = run_summary(run_dir)
    rundir.write_table(summary, run_dir.summary_table)
    run_dir.mark_done()
    print("\n".join([f"done: {run_dir}", *summary_lines(summary)]))


def summary_lines(summary: pd.DataFrame) -> List[str]:
    """Each round's (and branch's) remaining weights and final test accuracy, one line each."""
    lines = ["  round  branch          weights remaining      test accuracy (best)"]
    for row in summary.to_dict("records"):
        known = lambda *keys: all(pd.notna(row.get(k)) for k in keys)  # noqa: E731
        remaining = (f"{int(row['weights_remaining']):,} ({row['fraction_remaining']:.1%})"
                     if known("weights_remaining", "fraction_remaining") else "?")
        accuracy = (f"{row['test_accuracy']:.4f} ({row['best_test_accuracy']:.4f})"
                    if known("test_accuracy", "best_test_accuracy") else "?")
        lines.append(f"  {int(row['round']):5d}  {row['branch']:<14.14}  {remaining:<21}  {accuracy}")
    return lines


def _record(directory: rundir.RunDir) -> Optional[dict]:
    if not os.path.exists(directory.round_record):
        return None
    with open(directory.round_record, encoding="utf-8") as f:
        return {"branch": "trunk", **json.load(f)}


def run_summary(run_dir: str) -> pd.DataFrame:
    """One row per finished round (branch "trunk") and per finished branch of a round
    (branch NAME), from their round.json files."""
    run_dir, rows, r = rundir.at(run_dir), [], 0
    while (record := _record(run_dir.round(r))) is not None:
        rows.append(record)
        for name in run_dir.round(r).branch_names():
            found = _record(run_dir.round(r).branch(name))
            if found is not None:
                rows.append(found)
        r += 1
    return pd.DataFrame(rows)


def table(run_dirs: Iterable[str]) -> pd.DataFrame:
    """Every run's summary with its settings: one row per run and round (sweeps)."""
    from keras_initstudy.analysis import runs
    frames = []
    for run_dir in run_dirs:
        summary = run_summary(run_dir)
        settings = runs.settings(run_dir)
        for key in ("kernel_initializer", "init_seed", "data_seed", "seed", "strategy", "rewind", "prune_fraction",
                    "reinit", "pretrain", "sparse_pretrain", "dataset", "model", "experiment", "run_dir", "run_name"):
            if key in settings:
                summary.insert(0, key, settings[key])
        frames.append(summary)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
