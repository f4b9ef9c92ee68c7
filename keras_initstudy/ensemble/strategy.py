"""The execution strategy: prepared runs trained one by one, or stacked as seed ensembles.

    strategy.train(prepared_runs, steps_per_epoch, lifecycle.Execution(together=True))

Each prepared run (a member of lifecycle.run) records into the run directory a single
run with its config writes, with the same files and contents (history.csv, RMSD,
snapshots, TensorBoard, checkpoints). Trained together, what is shared is the
arithmetic: one Keras model (stack.py) whose loss is the sum of the members' losses,
so each member's gradient, and its optimizer update (elementwise: SGD, momentum,
Adam's moments), is exactly its own. A member whose loss turns NaN goes on
diverging in its own directory while the others train on. Members resume from their
own checkpoints: those at the same step train together.
"""
import dataclasses
from typing import Sequence

import keras
import tensorflow as tf

from keras_initstudy import callbacks as callbacks_lib
from keras_initstudy import config as config_lib
from keras_initstudy import datasets, lifecycle, loop, models, pipeline, rundir, steps, training
from keras_initstudy.ensemble import fanout, stack


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
class PreparedRun:
    """One member built for training, as a single run would do it: its config and data, the
    directory it records into, its built model, its instruments, and its start and end steps."""

    cfg: config_lib.ExperimentConfig
    data: datasets.Dataset
    directory: rundir.RunDir
    spec: models.ModelSpec
    callbacks: list
    end: steps.Step  # where its training ends
    start: int = 0  # the optimizer step it starts from, before any resume from its checkpoint

    def resume(self) -> None:
        """From the directory's last checkpoint, if it has one (as training.fit_into does)."""
        if not self.spec.model.optimizer.built:
            self.spec.model.optimizer.build(self.spec.model.trainable_variables)
        resumed = callbacks_lib.restore(self.spec.model, self.directory.checkpoints)
        self.start = resumed or self.start
        print(f"resuming {self.directory} at step {self.start}" if resumed else f"training into {self.directory}")


def train(runs: Sequence[PreparedRun], per_epoch: int, execution: lifecycle.Execution) -> None:
    """Trains each prepared run to its end: alone (training.fit_into, with the execution's
    callbacks), or with `execution.together` in groups of runs at the same start and end."""
    if not execution.together:
        for p in runs:
            training.fit_into(p.directory, p.cfg, p.spec.model, p.data, [*execution.callbacks, *p.callbacks],
                              p.start, p.end, per_epoch, execution.verbose)
        return
    for p in runs:
        p.resume()
    for key in sorted({(p.start, p.end.iteration) for p in runs}):
        group = [p for p in runs if (p.start, p.end.iteration) == key]
        train_together(group, key[0], group[0].end, per_epoch, execution.verbose, execution.ensemble_callbacks)


def train_together(members: Sequence[PreparedRun], start: int, end: steps.Step, per_epoch: int, verbose: int = 0,
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
        fanout.MemberHooks(m.spec.model, p, [*m.callbacks,
                                             *training.recording_callbacks(m.directory, m.cfg, per_epoch, start)])
        for m, p in zip(members, pairs)])
    one_hot_classes = members[0].data.info.num_classes if cfg.training.mixup else 0
    loop.train_steps(model, lambda a, b: stream([m.cfg for m in members], [m.data for m in members], a, b),
                     start, end.iteration, per_epoch, callbacks=[*ensemble_callbacks, fanned],
                     validation_data=eval_batches(members[0].data.test, len(members), one_hot_classes),
                     verbose=verbose, steps_per_execution=training.steps_per_execution(cfg))
    for p in pairs:
        stack.copy_to_member(p)
