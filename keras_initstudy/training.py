"""One training run: config in, complete run directory out (resumable).

flags -> ExperimentConfig -> dataset + model + callbacks -> model.fit -> run dir.
"""
import os
from typing import Iterable, List, Optional

import keras
from absl import logging

from keras_initstudy import callbacks as callbacks_lib
from keras_initstudy import config as config_lib
from keras_initstudy import datasets, determinism, models, optimizers, pipeline, rundir

OPTIMIZERS = {
    "sgd": lambda lr, cfg: optimizers.PaperSGD(  # paper 000 §3: plain SGD; paper 002: momentum, decay
        learning_rate=lr, momentum=cfg.momentum, coupled_weight_decay=cfg.weight_decay,
        gradient_noise=cfg.noise_scale if cfg.mechanism() == "simulated" else 0.0),
    "adam": lambda lr, cfg: keras.optimizers.Adam(learning_rate=lr),
    "rmsprop": lambda lr, cfg: keras.optimizers.RMSprop(learning_rate=lr),
    "adagrad": lambda lr, cfg: keras.optimizers.Adagrad(learning_rate=lr),
}


def learning_rate(cfg: config_lib.TrainingConfig, steps_per_epoch: int):
    """A constant, or the step schedule: times lr_factor at each epoch of lr_boundaries."""
    boundaries = [int(e) for e in cfg.lr_boundaries.split(",") if e.strip()]
    if not boundaries:
        return cfg.learning_rate
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [e * steps_per_epoch for e in boundaries],
        [cfg.learning_rate * cfg.lr_factor ** i for i in range(len(boundaries) + 1)])


def make_optimizer(cfg: config_lib.TrainingConfig, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    return OPTIMIZERS[cfg.optimizer](learning_rate(cfg, steps_per_epoch), cfg)


def compile_model(model: keras.Model, cfg: config_lib.TrainingConfig, steps_per_epoch: int = 1) -> keras.Model:
    """Categorical cross-entropy (paper 000 eq. 2) on integer labels, plus accuracy;
    on one-hot (mixed) labels when mixup is on."""
    if cfg.mixup:
        loss, accuracy = keras.losses.CategoricalCrossentropy(), keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss, accuracy = (keras.losses.SparseCategoricalCrossentropy(),
                          keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
    model.compile(optimizer=make_optimizer(cfg, steps_per_epoch), loss=loss, metrics=[accuracy])
    return model


def build_for(cfg: config_lib.ExperimentConfig, info: datasets.DatasetInfo,
              steps_per_epoch: int = 1) -> keras.Model:
    """Sets the precision, seeds, then builds and compiles the model, so its
    initial weights depend on the seed only."""
    keras.mixed_precision.set_global_policy(cfg.training.dtype)
    determinism.seed_everything(cfg.training.seed)
    return compile_model(models.build(cfg.model, info), cfg.training, steps_per_epoch)


PROBE_EXAMPLES = 256  # test images the perturbation norms are measured on


def measurement_callbacks(model: keras.Model, cfg: config_lib.ExperimentConfig, run_dir: str,
                          data: Optional[datasets.Dataset] = None) -> List[keras.callbacks.Callback]:
    """The instruments, before HistoryCSV and TensorBoard so their values reach the logs:
    RMSD (paper 000), correlations and perturbation norms (paper 002), snapshots,
    TensorBoard weight images."""
    m = cfg.measure
    found = []
    initial = None
    if m.rmsd:
        initial = callbacks_lib.InitialWeights(model, include_biases=m.rmsd_include_biases)
        found.append(callbacks_lib.DeviationTracker(
            initial, every_steps=m.rmsd_every_steps,
            steps_csv=rundir.rmsd_steps_path(run_dir) if m.rmsd_every_steps else None))
    if m.correlations:
        found.append(callbacks_lib.CorrelationLogger())
    if m.perturbation_layers and data is not None:
        layers = [] if m.perturbation_layers == "auto" else m.perturbation_layers.split(",")
        found.append(callbacks_lib.SymmetryPerturbation(data.test.images[:PROBE_EXAMPLES],
                                                        data.test.labels[:PROBE_EXAMPLES], layers))
    schedule = callbacks_lib.parse_schedule(m.snapshot_epochs, cfg.training.epochs)
    if schedule:
        found.append(callbacks_lib.WeightSnapshots(run_dir, schedule))
    if m.weight_images:
        found.append(callbacks_lib.WeightImages(
            initial if initial is not None and not m.rmsd_include_biases
            else callbacks_lib.InitialWeights(model),
            os.path.join(rundir.tensorboard_dir(run_dir), "weights"), kernel_index=m.image_layer))
    return found


def train(cfg: config_lib.ExperimentConfig,
          extra_callbacks: Iterable[keras.callbacks.Callback] = (),
          verbose: int = 1, dataset: Optional[datasets.Dataset] = None) -> str:
    """Trains `cfg` into its run directory and returns the directory.

    A finished run (DONE present) is left alone; an interrupted one resumes
    after its last completed epoch. `dataset` skips loading when the caller
    already holds it (sweeps).
    """
    run_dir = rundir.path_for(cfg)
    if rundir.is_done(run_dir):
        logging.info("run already complete, nothing to do: %s", run_dir)
        print(f"run already complete: {run_dir}")
        return run_dir
    rundir.write_settings(run_dir, cfg)
    determinism.set_op_determinism(cfg.training.op_determinism())
    rundir.write_json(rundir.environment_path(run_dir), determinism.environment(cfg.training.mechanism()))
    data = dataset or datasets.load(cfg.data.dataset, cfg.data.data_dir, cfg.data.download)
    steps = pipeline.steps_per_epoch(len(data.train), cfg.training.batch_size)
    model = build_for(cfg, data.info, steps)

    measurements = measurement_callbacks(model, cfg, run_dir, data)  # before restore: they copy w(0)
    initial_epoch = callbacks_lib.restore(model, rundir.checkpoint_dir(run_dir))
    if initial_epoch:
        print(f"resuming {run_dir} after epoch {initial_epoch}")
    else:
        print(f"training into {run_dir}")
    t = cfg.training
    one_hot_classes = data.info.num_classes if t.mixup else 0
    if initial_epoch < t.epochs:
        model.fit(
            pipeline.train_stream(data.train, t.batch_size, t.seed, initial_epoch, t.epochs,
                                  augment=t.augment, mixup=t.mixup, num_classes=one_hot_classes),
            epochs=t.epochs, initial_epoch=initial_epoch, steps_per_epoch=steps,
            validation_data=pipeline.eval_batches(data.test, num_classes=one_hot_classes),
            shuffle=False,  # the stream is already shuffled per epoch
            callbacks=[*extra_callbacks, *measurements,
                       keras.callbacks.TensorBoard(log_dir=rundir.tensorboard_dir(run_dir),
                                                   write_graph=False),
                       callbacks_lib.HistoryCSV(rundir.history_path(run_dir), initial_epoch),
                       callbacks_lib.EpochCheckpoint(rundir.checkpoint_dir(run_dir))],
            verbose=verbose)
    with rundir.atomic_path(rundir.model_path(run_dir)) as tmp:
        model.save(tmp)
    rundir.mark_done(run_dir)
    print(f"done: {run_dir}")
    return run_dir
