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
from typing import Iterable, List, Optional

import keras
import numpy as np
import pandas as pd
from absl import logging

from keras_initstudy import (callbacks as callbacks_lib, datasets, determinism, errors, initializers, models,
                             pipeline, rundir, seeds, steps, training, training_state)
from keras_initstudy.callbacks.snapshots import variable_name, weights_by_path
from keras_initstudy.pruning import masks as masks_lib
from keras_initstudy.pruning import perturb, pretraining, strategies
from keras_initstudy.pruning.layout import branch_dir, pending_branches, round_dir
from keras_initstudy.pruning.config import PruneExperimentConfig


def mask_path(directory: str) -> str:
    return os.path.join(directory, "mask.npz")


def final_weights_path(directory: str) -> str:
    return os.path.join(directory, "final.npz")


def round_record_path(directory: str) -> str:
    return os.path.join(directory, "round.json")


def summary_prefix(run_dir: str) -> str:
    return os.path.join(run_dir, "summary")


def assign_by_name(model: keras.Model, values: dict) -> None:
    """Sets every trainable variable of the model from {'hidden_1/kernel': array}."""
    for variable in model.trainable_weights:
        variable.assign(values[variable_name(model, variable)])


def next_masks(cfg: PruneExperimentConfig, run_dir: str, r: int, output_layer: str) -> dict:
    """Round r's masks: round r-1's, pruned by magnitude at the end of round r-1."""
    previous = round_dir(run_dir, r - 1)
    old = masks_lib.load(mask_path(previous))
    final = rundir.read_npz(final_weights_path(previous))
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
    first = round_dir(run_dir, 0)
    if r == 0:
        return 0
    initial = {name: variable.numpy() for name, variable in masks.variables.items()}
    if cfg.pruning.reset_optimizer:
        start = callbacks_lib.load_save_point(spec.model, rundir.save_point_dir(first), rewind)
        if cfg.pruning.rewind_optimizer == "fresh":
            clear_optimizer_buffers(spec.model.optimizer)
    else:  # keep the optimizer where the previous round left it; rewind the weights only
        previous = round_dir(run_dir, r - 1)
        start = training_state.load(spec.model, previous, "final_state")
        assign_by_name(spec.model, rundir.read_npz(rundir.snapshot_path_for(first, steps.Step(rewind, per_epoch))))
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


def accuracy_on(model: keras.Model, split) -> float:
    """The model's accuracy on `split` (in inference mode)."""
    return float(model.evaluate(pipeline.eval_batches(split), verbose=0)[1])


def round_masks(cfg: PruneExperimentConfig, run_dir: str, r: int, masks: masks_lib.Masks, output_layer: str) -> None:
    """Loads round r's mask into `masks`, computing and saving it first if it is new."""
    path = mask_path(round_dir(run_dir, r))
    if not masks_lib.exists(path):
        new = ({n: np.ones(v.shape, bool) for n, v in masks.variables.items()} if r == 0
               else next_masks(cfg, run_dir, r, output_layer))
        masks_lib.save(path, new)
    masks.assign(masks_lib.load(path))


@dataclasses.dataclass
class RoundPlan:
    """One round (or branch) of one run, built, masked and rewound: what its training needs."""

    cfg: PruneExperimentConfig
    r: int
    branch: Optional[str]
    directory: str
    spec: object  # models.ModelSpec
    masks: masks_lib.Masks
    start: int  # the optimizer step it starts from (before any resume from its checkpoint)
    end: steps.Step
    callbacks: list  # instruments (and the caller's callbacks), before the recording ones


def train_round(cfg: PruneExperimentConfig, run_dir: str, r: int, data: datasets.Dataset, per_epoch: int,
                end: steps.Step, rewind: int, extra_callbacks, verbose: int, branch: Optional[str] = None) -> None:
    """Trains round r of the IMP trunk into round-NN/, or with `branch` (a re-initialisation)
    one training on round r's mask and rewind state into round-NN/branches/NAME/."""
    keras.backend.clear_session()
    plan = prepare_round(cfg, run_dir, r, data, per_epoch, end, rewind, extra_callbacks, verbose, branch)
    training.fit_into(plan.directory, cfg, plan.spec.model, data, plan.callbacks, plan.start, plan.end, per_epoch,
                      verbose)
    finish_round(plan, data, per_epoch)


def prepare_round(cfg: PruneExperimentConfig, run_dir: str, r: int, data: datasets.Dataset, per_epoch: int,
                  end: steps.Step, rewind: int, extra_callbacks, verbose: int,
                  branch: Optional[str] = None) -> RoundPlan:
    """Builds round r's model (or branch's), sets its mask and starting state (pre-training
    it first where asked), and lists its instruments; the seed-ensemble runner trains
    several such plans together (ensemble/pruning.py)."""
    directory = round_dir(run_dir, r) if branch is None else branch_dir(run_dir, r, branch)
    spec = training.build(cfg, data.info, per_epoch)  # w(0): the same draw every round
    masks = masks_lib.Masks.attach(spec, include_biases=cfg.pruning.prune_biases)
    round_masks(cfg, run_dir, r, masks, spec.output)
    pretrained = cfg.pruning.pretrain != "none"
    if pretrained and (r == 0 or cfg.pruning.sparse_pretrain):
        pretraining.pretrain(cfg, pretraining.pretrain_dir(run_dir, r), spec, masks, data, verbose)
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
            callbacks_lib.SavePoints(rundir.save_point_dir(directory), [rewind]) if cfg.pruning.reset_optimizer
            else callbacks_lib.WeightSnapshots(directory, [steps.Step(rewind, per_epoch)]))
    return RoundPlan(cfg, r, branch, directory, spec, masks, start, round_end, [*extra_callbacks, *measurements])


def finish_round(plan: RoundPlan, data: datasets.Dataset, per_epoch: int) -> None:
    """A trained round's last files: final weights (and optimizer), round.json, DONE."""
    model = plan.spec.model
    rundir.write_npz(final_weights_path(plan.directory), weights_by_path(model))
    if not plan.cfg.pruning.reset_optimizer and plan.branch is None:
        training_state.save(model, plan.directory, "final_state", plan.end.iteration)
    record = round_record(plan.r, plan.directory, plan.masks, model, data, per_epoch, plan.start, plan.end)
    rundir.write_json(round_record_path(plan.directory), {"branch": plan.branch or "trunk", **record})
    rundir.mark_done(plan.directory)


def round_record(r: int, directory: str, masks: masks_lib.Masks, model: keras.Model, data: datasets.Dataset,
                 per_epoch: int, start: int, end: steps.Step) -> dict:
    """What the summary table reports of one round."""
    counts = masks.counts()
    remaining = sum(c for c, _ in counts.values())
    total = sum(n for _, n in counts.values())
    history = pd.read_csv(rundir.history_path(directory))
    best = history.loc[history["test_accuracy"].idxmax()]
    record = {"round": r, "steps_per_epoch": per_epoch, "start_step": start, "end_step": end.iteration,
              "weights_remaining": remaining, "weights_total": total, "fraction_remaining": remaining / total,
              "test_accuracy": float(history["test_accuracy"].iloc[-1]),
              "test_loss": float(history["test_loss"].iloc[-1]),
              "best_test_accuracy": float(best["test_accuracy"]), "best_epoch": float(best["epoch"]),
              "train_eval_accuracy": accuracy_on(model, data.train)}
    for name, (kept, size) in counts.items():
        record[f"remaining/{name}"] = kept
        record[f"fraction_remaining/{name}"] = kept / size
    for _, row in history.iterrows():
        record[f"test_accuracy/ep{row['epoch']:g}"] = float(row["test_accuracy"])
    return record


def run(cfg: PruneExperimentConfig, extra_callbacks: Iterable[keras.callbacks.Callback] = (), verbose: int = 1,
        dataset: Optional[datasets.Dataset] = None) -> str:
    """Runs every round not yet done, then writes the summary; returns the run directory.
    One process at a time writes a run directory (rundir.writer_lock)."""
    run_dir = rundir.path_for(cfg)
    if not pending_branches(cfg, run_dir) and training.already_done(cfg, run_dir):
        return run_dir
    determinism.set_op_determinism(cfg.training.op_determinism())
    data = training.load_data(cfg, dataset)
    per_epoch, end, rewind = schedule(cfg, data)
    with rundir.writer_lock(run_dir, wait=cfg.run.wait_for_lock):
        if not open_run(cfg, run_dir, data):
            return run_dir
        for r in range(cfg.pruning.rounds):
            if rundir.is_done(round_dir(run_dir, r)):
                logging.info("round %d already done", r)
                continue
            print(f"round {r + 1} of {cfg.pruning.rounds} ({os.path.basename(round_dir(run_dir, r))})")
            train_round(cfg, run_dir, r, data, per_epoch, end, rewind, extra_callbacks, verbose)
        for r, name in pending_branches(cfg, run_dir):
            print(f"round {r}, branch {name}")
            train_round(cfg, run_dir, r, data, per_epoch, end, rewind, extra_callbacks, verbose, branch=name)
        close_run(run_dir)
    return run_dir


def schedule(cfg: PruneExperimentConfig, data: datasets.Dataset):
    """(steps per epoch, end of a round, rewind step), checked before anything trains."""
    per_epoch, end = training.schedule(cfg, data)
    rewind = cfg.pruning.rewind_step(per_epoch)
    if rewind >= end.iteration:
        raise errors.UserError(f"--rewind={cfg.pruning.rewind} is step {rewind}, not before the end of a round "
                               f"(step {end.iteration})")
    check_reinitialisations(cfg, data.info)
    pretraining.check_task(cfg.pruning.pretrain, cfg.pruning.pretrain_protocol, data.info)
    return per_epoch, end, rewind


def open_run(cfg: PruneExperimentConfig, run_dir: str, data: datasets.Dataset) -> bool:
    """With the run's lock held: False when it is complete; otherwise reopens a finished
    run asked for new branches, records the settings, and returns True."""
    pending = pending_branches(cfg, run_dir)
    if pending and rundir.is_done(run_dir):  # a finished run asked for new branches: only they train
        changes = training.instrument_changes(cfg, run_dir)
        if changes:
            raise errors.UserError(f"{run_dir} was recorded with other instruments ({'; '.join(changes)}): "
                                   "add branches with the same instrument flags")
        print(f"{run_dir}: adding branches {', '.join(sorted({name for _, name in pending}))}")
        rundir.clear_done(run_dir)
    elif training.already_done(cfg, run_dir):  # finished by the process we waited for
        return False
    training.start_writing(run_dir, cfg, data)
    return True


def close_run(run_dir: str) -> None:
    """Every round and branch trained: the summary table, then DONE."""
    summary = run_summary(run_dir)
    rundir.write_table(summary, summary_prefix(run_dir))
    rundir.mark_done(run_dir)
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


def _record(directory: str) -> Optional[dict]:
    if not os.path.exists(round_record_path(directory)):
        return None
    with open(round_record_path(directory), encoding="utf-8") as f:
        return {"branch": "trunk", **json.load(f)}


def run_summary(run_dir: str) -> pd.DataFrame:
    """One row per finished round (branch "trunk") and per finished branch of a round
    (branch NAME), from their round.json files."""
    rows = []
    r = 0
    while (record := _record(round_dir(run_dir, r))) is not None:
        rows.append(record)
        branches = os.path.join(round_dir(run_dir, r), "branches")
        for name in sorted(os.listdir(branches)) if os.path.isdir(branches) else ():
            found = _record(branch_dir(run_dir, r, name))
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
