"""One member's training: the model built and compiled, its instruments, and its fit
into its run directory (resumable).

flags -> ExperimentConfig -> dataset + model (ModelSpec) + callbacks -> loop.train_steps
-> run dir. The run's bookkeeping (lock, done check, settings, finish) is the lifecycle's
(lifecycle.py), for every runner; the loop (loop.py) only trains; this module builds
what both need: `build` and `compile_model` make the model, `measurement_callbacks` the
instruments, `fit_into` trains a built model from a step into a directory.
"""
from typing import List, Optional, Tuple

import keras
import numpy as np

from keras_initstudy import callbacks as callbacks_lib
from keras_initstudy import config as config_lib
from keras_initstudy import datasets, determinism, errors, loop, models, optimizers, pipeline, rundir, seeds, steps
from keras_initstudy.analysis import summary
from keras_initstudy.callbacks.tensorboard import EpochsDoneTensorBoard

OPTIMIZERS = {
    "sgd": lambda lr, cfg: optimizers.PaperSGD(  # paper 000 §3: plain SGD; paper 002: momentum, decay
        learning_rate=lr, momentum=cfg.momentum, momentum_form=cfg.momentum_form, coupled_weight_decay=cfg.weight_decay,
        gradient_noise=cfg.noise_scale if cfg.mechanism() == "simulated" else 0.0),
    "adam": lambda lr, cfg: keras.optimizers.Adam(learning_rate=lr, epsilon=cfg.adam_epsilon),
    "rmsprop": lambda lr, cfg: keras.optimizers.RMSprop(learning_rate=lr),
    "adagrad": lambda lr, cfg: keras.optimizers.Adagrad(learning_rate=lr),
}


def learning_rate(cfg: config_lib.TrainingConfig, steps_per_epoch: int):
    """A constant, or the step schedule: times lr_factor at each step of lr_boundaries (a
    bare number there is epochs). Update number b (0-based; the first update after b
    steps) is the first at the new rate: 59 is paper 002's "epoch 60", 1-based, as the
    authors' loop sets adjust_learning_rate(epoch + 1) before 0-based epoch 59.
    The optimizer asks for the rate of update b at iterations = b, and Keras's
    PiecewiseConstantDecay keeps the old value at the boundary step, hence b - 1."""
    boundaries = [s.iteration for s in steps.parse_list(cfg.lr_boundaries, steps_per_epoch)]
    if not boundaries:
        return cfg.learning_rate
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [b - 1 for b in boundaries], [cfg.learning_rate * cfg.lr_factor ** i for i in range(len(boundaries) + 1)])


def make_optimizer(cfg: config_lib.TrainingConfig, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    return OPTIMIZERS[cfg.optimizer](learning_rate(cfg, steps_per_epoch), cfg)


def compile_model(model: keras.Model, cfg: config_lib.TrainingConfig, steps_per_epoch: int = 1) -> keras.Model:
    """Categorical cross-entropy (paper 000 eq. 2) on integer labels, plus accuracy;
    on one-hot (mixed) labels when mixup is on; averaged over the batch, or summed
    (--loss_reduction=sum, paper 001's released code)."""
    loss, accuracy = loss_and_accuracy(cfg)
    model.compile(optimizer=make_optimizer(cfg, steps_per_epoch), loss=loss, metrics=[accuracy])
    return model


def loss_and_accuracy(cfg: config_lib.TrainingConfig):
    """A new loss and accuracy metric: sparse (integer labels), or categorical with mixup."""
    reduction = "sum_over_batch_size" if cfg.loss_reduction == "mean" else "sum"
    if cfg.mixup:
        return (keras.losses.CategoricalCrossentropy(reduction=reduction),
                keras.metrics.CategoricalAccuracy(name="accuracy"))
    return (keras.losses.SparseCategoricalCrossentropy(reduction=reduction),
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"))


def build(cfg: config_lib.ExperimentConfig, info: datasets.DatasetInfo,
          steps_per_epoch: int = 1) -> models.ModelSpec:
    """Sets the precision and global seeds, then builds and compiles the model; its
    initial weights depend only on the init seed (each layer draws with its own seed)."""
    keras.mixed_precision.set_global_policy(cfg.training.dtype)
    determinism.seed_everything(cfg.training.seeds.init)
    spec = models.build(cfg.model, info, cfg.training.seeds)
    compile_model(spec.model, cfg.training, steps_per_epoch)
    return spec


PROBE_EXAMPLES = 256  # test images the perturbation norms are measured on


def measurement_callbacks(spec: models.ModelSpec, cfg: config_lib.ExperimentConfig, run_dir: str,
                          reference: callbacks_lib.ReferenceWeights, end: steps.Step,
                          data: Optional[datasets.Dataset] = None,
                          telemetry: bool = True) -> List[keras.callbacks.Callback]:
    """The instruments, before HistoryCSV and TensorBoard so their values reach the logs:
    RMSD against `reference` (paper 000), correlations and perturbation norms (paper
    002), snapshots, TensorBoard weight images, save points, and early-phase telemetry
    (paper 004; `telemetry=False` leaves it out, as pruning rounds after the first do)."""
    m = cfg.measure
    found = []
    if data is not None and data.validation is not None:
        found.append(callbacks_lib.HeldOutEvaluation(eval_batches(cfg, data.validation,
                                                                  data.info.num_classes if cfg.training.mixup else 0)))
    if m.gradient_steps and data is not None:
        found.append(callbacks_lib.GradientQuantiles(
            run_dir, spec.kernel_variables(), probe_batch(cfg, data), m.gradient_steps, end.steps_per_epoch,
            flush_every=checkpoint_every(cfg, end.steps_per_epoch)))
    if m.telemetry and telemetry and data is not None:
        found.append(telemetry_callback(spec, cfg, run_dir, end, data))
    if m.rmsd:
        found.append(callbacks_lib.DeviationTracker(
            reference, every_steps=m.rmsd_every_steps,
            steps_csv=rundir.at(run_dir).rmsd_steps if m.rmsd_every_steps else None))
    if m.correlations:
        found.append(callbacks_lib.CorrelationLogger(spec.kernel_variables(), m.correlation))
    if m.perturbation_layers and data is not None:
        layers = list(spec.features) if m.perturbation_layers == "auto" else m.perturbation_layers.split(",")
        unknown = [n for n in layers if n not in {layer.name for layer in spec.model.layers}]
        if unknown or not layers:
            raise errors.UserError(f"--perturbation_layers: {spec.model.name} has no layer(s) "
                                   f"{', '.join(unknown) or '(auto: the model names no feature layers)'}")
        found.append(callbacks_lib.SymmetryPerturbation(data.test.images[:PROBE_EXAMPLES],
                                                        data.test.labels[:PROBE_EXAMPLES], layers))
    schedule = callbacks_lib.parse_schedule(m.snapshots, end)
    if schedule:
        found.append(callbacks_lib.WeightSnapshots(run_dir, schedule))
    if m.save_points:
        found.append(callbacks_lib.SavePoints(
            rundir.at(run_dir).save_points,
            [s.iteration for s in steps.parse_list(m.save_points, end.steps_per_epoch) if s <= end]))
    if m.weight_images:
        kernels = len(spec.kernels)
        if m.image_layer >= kernels:
            raise errors.UserError(f"--image_layer={m.image_layer}: {spec.model.name} has kernels 0..{kernels - 1}")
        image_reference = (reference if not m.rmsd_include_biases
                           else callbacks_lib.ReferenceWeights(spec.kernel_variables()))
        found.append(callbacks_lib.WeightImages(
            image_reference, rundir.at(run_dir).tensorboard_run("weights"), kernel_index=m.image_layer))
    return found


def probe_batch(cfg: config_lib.ExperimentConfig, data: datasets.Dataset):
    """(images, labels): batch_size training examples drawn by the data seed, on which
    gradient measurements are taken (telemetry, gradient quantiles)."""
    chosen = np.random.default_rng(seeds.derive(cfg.training.seeds.data, "telemetry_probe")).choice(
        len(data.train), size=min(cfg.training.batch_size, len(data.train)), replace=False)
    return data.train.images[chosen], data.train.labels[chosen]


def telemetry_callback(spec: models.ModelSpec, cfg: config_lib.ExperimentConfig, run_dir: str, end: steps.Step,
                       data: datasets.Dataset) -> callbacks_lib.Telemetry:
    """Paper 004 Fig. 3's telemetry on the kernels; its probe batch is a seeded draw of
    batch_size training examples, its 10 tracked weights a seeded draw too."""
    m, per_epoch = cfg.measure, end.steps_per_epoch
    at = {name: steps.Step.parse(getattr(m, name), per_epoch).iteration
          for name in ("telemetry_window", "telemetry_eval_every", "telemetry_state_every")}
    return callbacks_lib.Telemetry(
        run_dir, spec.kernel_variables(), end.iteration, per_epoch, window=at["telemetry_window"],
        eval_every=at["telemetry_eval_every"], state_every=at["telemetry_state_every"],
        probe=probe_batch(cfg, data), test=eval_batches(cfg, data.test),
        seed=seeds.derive(cfg.training.seeds.init, "telemetry_weights"), flush_every=checkpoint_every(cfg, per_epoch),
        gradient_mode=m.telemetry_gradient)


def schedule(cfg: config_lib.ExperimentConfig, data: datasets.Dataset) -> Tuple[int, steps.Step]:
    """(steps per epoch, the end of training); a bad checkpoint interval fails here, before
    anything is written."""
    per_epoch = pipeline.steps_per_epoch(len(data.train), cfg.training.batch_size)
    end = cfg.training.end(per_epoch)
    checkpoint_every(cfg, per_epoch)
    return per_epoch, end


def build_instrumented(cfg: config_lib.ExperimentConfig, data: datasets.Dataset, run_dir: str, per_epoch: int,
                       end: steps.Step) -> Tuple[models.ModelSpec, List[keras.callbacks.Callback]]:
    """The run's model and its instruments, RMSD measured from the weights just built
    (w(0): before any checkpoint is restored)."""
    spec = build(cfg, data.info, per_epoch)
    reference = callbacks_lib.ReferenceWeights.of(spec, cfg.measure.rmsd_include_biases)
    return spec, measurement_callbacks(spec, cfg, run_dir, reference, end, data)


def finish(run_dir: str, model: keras.Model) -> None:
    """The last files of a trained run: the model, summary.json, then DONE; says so."""
    run_dir = rundir.at(run_dir)
    with rundir.atomic_path(run_dir.model) as tmp:
        model.save(tmp)
    result = summary.accuracy_summary(callbacks_lib.read_history(run_dir.history))
    rundir.write_json(run_dir.summary, result)
    run_dir.mark_done()
    print(f"done: {run_dir}" + (f" (test accuracy: final {result['final_test_accuracy']:.4f}, best "
                                f"{result['best_test_accuracy']:.4f} at epoch {result['best_test_epoch']:g})"
                                if result else ""))


def checkpoint_every(cfg: config_lib.ExperimentConfig, steps_per_epoch: int) -> int:
    every = steps.Step.parse(cfg.run.checkpoint_every, steps_per_epoch).iteration
    if every < 1:
        raise errors.UserError(f"--checkpoint_every={cfg.run.checkpoint_every} is no step at all")
    return every


def fit_into(run_dir: str, cfg: config_lib.ExperimentConfig, model: keras.Model, data: datasets.Dataset,
             callbacks: List[keras.callbacks.Callback], start: int, end: steps.Step, steps_per_epoch: int,
             verbose: int = 0) -> int:
    """Trains a built, compiled model (possibly masked or rewound, at optimizer step `start`)
    until `end`, recording into `run_dir`: TensorBoard, history.csv, and checkpoints, from
    the last of which an interrupted fit resumes. Returns the step it started from."""
    resumed = callbacks_lib.restore(model, rundir.at(run_dir).checkpoints)
    if resumed:
        start = resumed
    print(f"resuming {run_dir} at step {steps.Step(start, steps_per_epoch)}" if resumed
          else f"training into {run_dir}")
    one_hot_classes = data.info.num_classes if cfg.training.mixup else 0
    loop.train_steps(
        model, lambda a, b: train_stream(cfg, data, a, b), start, end.iteration, steps_per_epoch,
        callbacks=[*callbacks, *recording_callbacks(run_dir, cfg, steps_per_epoch, start)],
        validation_data=eval_batches(cfg, data.test, one_hot_classes), verbose=verbose,
        steps_per_execution=steps_per_execution(cfg))
    return start


def eval_batches(cfg: config_lib.ExperimentConfig, split: datasets.Split, num_classes: int = 0):
    """An evaluation split in order, in batches of the size the model needs (the training batch
    size where batch norm normalises test batches by their own statistics), else large ones."""
    size = cfg.model.eval_batch_size(cfg.training.batch_size) or pipeline.EVAL_BATCH_SIZE
    return pipeline.eval_batches(split, batch_size=size, num_classes=num_classes)


def train_stream(cfg: config_lib.ExperimentConfig, data: datasets.Dataset, a: int, b: int):
    """The batches of steps a..b-1 in the run's data order (its data seed), augmented or mixed as asked."""
    t = cfg.training
    return pipeline.train_stream(data.train, t.batch_size, t.seeds.data, a, b, augment=t.augment, mixup=t.mixup,
                                 num_classes=data.info.num_classes if t.mixup else 0,
                                 augment_padding=t.augment_padding, reshuffle=t.reshuffle,
                                 fill=datasets.padding_fill(cfg.data.normalize))


def recording_callbacks(run_dir: str, cfg: config_lib.ExperimentConfig, steps_per_epoch: int,
                        start: int) -> List[keras.callbacks.Callback]:
    """What every run records after its instruments: TensorBoard, history.csv, then checkpoints (last)."""
    run_dir = rundir.at(run_dir)
    return [EpochsDoneTensorBoard(log_dir=run_dir.tensorboard, write_graph=False),
            callbacks_lib.HistoryCSV(run_dir.history, steps_per_epoch, start),
            callbacks_lib.Checkpoint(run_dir.checkpoints, checkpoint_every(cfg, steps_per_epoch),
                                     steps_per_epoch)]


def steps_per_execution(cfg: config_lib.ExperimentConfig):
    """--steps_per_execution: "auto" or the number."""
    value = cfg.run.steps_per_execution
    return value if value == "auto" else int(value)

