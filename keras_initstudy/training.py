"""One training run: config in, complete run directory out (resumable).

flags -> ExperimentConfig -> dataset + model + callbacks -> model.fit -> run dir.
"""
import os
from typing import Iterable, List, Optional

import keras
from absl import logging

from keras_initstudy import callbacks as callbacks_lib
from keras_initstudy import config as config_lib
from keras_initstudy import datasets, determinism, models, pipeline, rundir

OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(learning_rate=lr),  # paper 000 §3
    "adam": lambda lr: keras.optimizers.Adam(learning_rate=lr),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(learning_rate=lr),
    "adagrad": lambda lr: keras.optimizers.Adagrad(learning_rate=lr),
}


def make_optimizer(cfg: config_lib.TrainingConfig) -> keras.optimizers.Optimizer:
    return OPTIMIZERS[cfg.optimizer](cfg.learning_rate)


def compile_model(model: keras.Model, cfg: config_lib.TrainingConfig) -> keras.Model:
    """Categorical cross-entropy (paper 000 eq. 2) on integer labels, plus accuracy."""
    model.compile(optimizer=make_optimizer(cfg),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def build_for(cfg: config_lib.ExperimentConfig, info: datasets.DatasetInfo) -> keras.Model:
    """Seeds, then builds and compiles the model, so its initial weights depend on the seed only."""
    determinism.seed_everything(cfg.training.seed)
    return compile_model(models.build(cfg.model, info), cfg.training)


def measurement_callbacks(model: keras.Model, cfg: config_lib.ExperimentConfig,
                          run_dir: str) -> List[keras.callbacks.Callback]:
    """Paper 000's instruments, in the order their values must reach the logs:
    RMSD (adds to the epoch's logs), snapshots, TensorBoard weight images."""
    m = cfg.measure
    found = []
    initial = None
    if m.rmsd:
        initial = callbacks_lib.InitialWeights(model, include_biases=m.rmsd_include_biases)
        found.append(callbacks_lib.DeviationTracker(
            initial, every_steps=m.rmsd_every_steps,
            steps_csv=rundir.rmsd_steps_path(run_dir) if m.rmsd_every_steps else None))
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
    if cfg.training.deterministic:
        determinism.enable_op_determinism()
    data = dataset or datasets.load(cfg.data.dataset, cfg.data.data_dir, cfg.data.download)
    model = build_for(cfg, data.info)

    measurements = measurement_callbacks(model, cfg, run_dir)  # before restore: they copy w(0)
    initial_epoch = callbacks_lib.restore(model, rundir.checkpoint_dir(run_dir))
    if initial_epoch:
        print(f"resuming {run_dir} after epoch {initial_epoch}")
    else:
        print(f"training into {run_dir}")
    epochs = cfg.training.epochs
    if initial_epoch < epochs:
        model.fit(
            pipeline.train_stream(data.train, cfg.training.batch_size, cfg.training.seed,
                                  initial_epoch, epochs),
            epochs=epochs, initial_epoch=initial_epoch,
            steps_per_epoch=pipeline.steps_per_epoch(len(data.train), cfg.training.batch_size),
            validation_data=pipeline.eval_batches(data.test),
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
