"""Trains runs that differ only in their seeds together, as one seed ensemble.

    outcomes = ensemble.run([cfg.replace(seed=s) for s in range(10)])   # run dirs (or errors)

Each member writes the run directory a single run with its config writes, with the
same files and contents (history.csv, RMSD, snapshots, TensorBoard, checkpoints,
model, DONE): training.run's bookkeeping, per member. What is shared is the
arithmetic: one Keras model (stack.py) whose loss is the sum of the members' losses,
so each member's gradient, and its optimizer update (elementwise: SGD, momentum,
Adam's moments), is exactly its own. A member whose loss turns NaN goes on
diverging in its own directory while the others train on.

Members already complete are skipped, members another process is writing are left
to it (their outcome is that error), and members resume from their own checkpoints:
those at the same step train together.
"""
import contextlib
import dataclasses
from typing import Dict, List, Optional, Sequence, Union

import keras
import tensorflow as tf

from keras_initstudy import callbacks as callbacks_lib
from keras_initstudy import config as config_lib
from keras_initstudy import datasets, determinism, errors, loop, pipeline, rundir, training
from keras_initstudy.ensemble import fanout, grouping, stack

Outcome = Union[str, Exception]


def stream(cfgs: Sequence[config_lib.ExperimentConfig], data: Sequence[datasets.Dataset], a: int,
           b: int) -> tf.data.Dataset:
    """Steps a..b-1 of every member's own stream: images (batch, K, ...), labels {member_k: ...}.
    Members on one dataset without augmentation or mixup share one gather per step."""
    t = cfgs[0].training
    if not (t.augment or t.mixup) and all(d is data[0] for d in data):
        plain = pipeline.stacked_stream(data[0].train, t.batch_size, [c.training.seeds.data for c in cfgs], a, b,
                                        reshuffle=t.reshuffle)
        return plain.map(lambda x, y: (x, {stack.output_name(k): y[:, k] for k in range(len(cfgs))}))
    streams = tuple(training.train_stream(c, d, a, b) for c, d in zip(cfgs, data))
    return tf.data.Dataset.zip(streams).map(
        lambda *batches: (tf.stack([x for x, _ in batches], axis=1),
                          {stack.output_name(k): y for k, (_, y) in enumerate(batches)}),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def eval_batches(split: datasets.Split, members: int, num_classes: int = 0) -> tf.data.Dataset:
    """The test split in order, shown to every member."""
    return pipeline.eval_batches(split, num_classes=num_classes).map(
        lambda x, y: (tf.stack([x] * members, axis=1), {stack.output_name(k): y for k in range(members)}))


def compile_ensemble(model: keras.Model, cfg: config_lib.TrainingConfig, steps_per_epoch: int) -> keras.Model:
    """Each member's loss and accuracy on its own output; Keras minimises their sum.

    A member's logged loss is a metric over its examples (fanout.MEAN_LOSS), as a single
    run's loss tracker weighs each batch by its size; Keras's own per-output loss
    weighs batches alike in graph mode, so a short last batch would count too much."""
    names = [stack.output_name(k) for k in range(len(model.outputs))]
    losses, metrics = {}, {}
    for name in names:
        loss, accuracy = training.loss_and_accuracy(cfg)
        mean_loss = (keras.metrics.CategoricalCrossentropy if cfg.mixup
                     else keras.metrics.SparseCategoricalCrossentropy)(name=fanout.MEAN_LOSS)
        losses[name], metrics[name] = loss, [accuracy, mean_loss]
    model.compile(optimizer=training.make_optimizer(cfg, steps_per_epoch), loss=losses, metrics=metrics)
    model.optimizer.build(model.trainable_variables)
    return model


@dataclasses.dataclass
class Member:
    """One member's training, as a single run would do it: its config and data, the
    directory it records into, its built model, its instruments, and its start step."""

    cfg: config_lib.ExperimentConfig
    data: datasets.Dataset
    directory: str
    spec: object  # models.ModelSpec
    callbacks: list
    end: object  # steps.Step: where its training ends
    start: int = 0

    def resume(self) -> None:
        """From the directory's last checkpoint, if it has one (as training.fit_into does)."""
        if not self.spec.model.optimizer.built:
            self.spec.model.optimizer.build(self.spec.model.trainable_variables)
        resumed = callbacks_lib.restore(self.spec.model, rundir.checkpoint_dir(self.directory))
        self.start = resumed or self.start
        print(f"resuming {self.directory} at step {self.start}" if resumed else f"training into {self.directory}")


def new_member(cfg, data, per_epoch: int, end) -> Member:
    """What training.run prepares for a run before training it."""
    run_dir = rundir.path_for(cfg)
    return Member(cfg, data, run_dir, *training.build_instrumented(cfg, data, run_dir, per_epoch, end), end)


def member_data(cfgs, todo, dataset=None) -> Dict[int, datasets.Dataset]:
    """Each member's data: one copy for all, unless hold-outs follow each member's data seed."""
    first = cfgs[todo[0]]
    base = dataset or datasets.load(first.data.dataset, first.data.data_dir, first.data.download)
    shared = None if first.data.validation_split else training.load_data(first, base)
    return {i: shared if shared is not None else training.load_data(cfgs[i], base) for i in todo}


def train_in_groups(members: Sequence[Member], per_epoch: int, verbose: int = 0,
                    ensemble_callbacks: Sequence[keras.callbacks.Callback] = ()) -> None:
    """Resumes each member, then trains those with the same start and end steps as one ensemble."""
    for m in members:
        m.resume()
    for key in sorted({(m.start, m.end.iteration) for m in members}):
        group = [m for m in members if (m.start, m.end.iteration) == key]
        train_together(group, key[0], group[0].end, per_epoch, verbose, ensemble_callbacks)


def run(cfgs: Sequence[config_lib.ExperimentConfig], verbose: int = 0,
        dataset: Optional[datasets.Dataset] = None,
        ensemble_callbacks: Sequence[keras.callbacks.Callback] = ()) -> List[Outcome]:
    """Trains every config (all alike but for their seeds) into its run directory; returns,
    per config, its run directory or the error that stopped it. `ensemble_callbacks` see
    the ensemble model itself (tests, profiling)."""
    grouping.check_alike(cfgs)
    outcomes: Dict[int, Outcome] = {}
    todo = []
    for i, cfg in enumerate(cfgs):
        if training.already_done(cfg, rundir.path_for(cfg)):
            outcomes[i] = rundir.path_for(cfg)
        elif any(rundir.path_for(cfg) == rundir.path_for(cfgs[j]) for j in todo):
            raise errors.UserError(f"two members are one run: {rundir.path_for(cfg)}")
        else:
            todo.append(i)
    if todo:
        first = cfgs[todo[0]]
        determinism.set_op_determinism(first.training.op_determinism())
        data = member_data(cfgs, todo, dataset)
        per_epoch, end = training.schedule(first, data[todo[0]])
        _train_locked(cfgs, todo, data, per_epoch, end, outcomes, verbose, ensemble_callbacks)
    return [outcomes[i] for i in range(len(cfgs))]


def lock_all(locks: contextlib.ExitStack, cfgs, todo, outcomes) -> List[int]:
    """Takes each run directory's lock; a run another process writes is left to it (its
    outcome is that error). Returns the indices locked."""
    locked = []
    for i in todo:
        try:
            locks.enter_context(rundir.writer_lock(rundir.path_for(cfgs[i]), wait=cfgs[i].run.wait_for_lock))
            locked.append(i)
        except rundir.RunInProgress as e:
            outcomes[i] = e
    return locked


def _train_locked(cfgs, todo, data, per_epoch, end, outcomes, verbose, ensemble_callbacks) -> None:
    """Takes the members' locks, prepares those still to train, trains them, finishes them."""
    with contextlib.ExitStack() as locks:
        members = {}
        for i in lock_all(locks, cfgs, todo, outcomes):
            if training.already_done(cfgs[i], rundir.path_for(cfgs[i])):  # finished by the process we waited for
                outcomes[i] = rundir.path_for(cfgs[i])
                continue
            members[i] = new_member(cfgs[i], data[i], per_epoch, end)
            training.start_writing(members[i].directory, cfgs[i], members[i].data)
        train_in_groups(list(members.values()), per_epoch, verbose, ensemble_callbacks)
        for i, m in members.items():
            training.finish(m.directory, m.spec.model)
            outcomes[i] = m.directory


def train_together(members: Sequence[Member], start: int, end, per_epoch: int, verbose: int = 0,
                   ensemble_callbacks: Sequence[keras.callbacks.Callback] = ()) -> None:
    """Trains members (built, resumed to `start`) as one ensemble until `end`, each
    recording into its directory as training.fit_into would."""
    cfg = members[0].cfg
    try:
        model = compile_ensemble(stack.stack([m.spec.model for m in members]), cfg.training, per_epoch)
    except stack.NotStackable as e:
        print(f"training {len(members)} runs one by one: {e}")
        for m in members:
            training.fit_into(m.directory, m.cfg, m.spec.model, m.data, m.callbacks, start, end, per_epoch, verbose)
        return
    pairs = [stack.variable_pairs(model, m.spec.model, k) for k, m in enumerate(members)]
    stack.load_members(pairs)
    fanned = fanout.MemberCallbacks([
        fanout.Member(m.spec.model, p, [*m.callbacks,
                                        *training.recording_callbacks(m.directory, m.cfg, per_epoch, start)])
        for m, p in zip(members, pairs)])
    one_hot_classes = members[0].data.info.num_classes if cfg.training.mixup else 0
    loop.train_steps(model, lambda a, b: stream([m.cfg for m in members], [m.data for m in members], a, b),
                     start, end.iteration, per_epoch, callbacks=[*ensemble_callbacks, fanned],
                     validation_data=eval_batches(members[0].data.test, len(members), one_hot_classes),
                     verbose=verbose, steps_per_execution=training.steps_per_execution(cfg))
    for p in pairs:
        stack.copy_to_member(p)
