"""Paper 002 §2.1 and App. E: how replicated features at initialisation hurt accuracy.

    python -m keras_initstudy.replicate_features --flagfile=flags/blumenfeld2020_replicate_quick.flags
    python -m keras_initstudy.figures blumenfeld2020/fig1 --inputs=runs/replicate_features.csv --out=fig.png

One-hidden-layer ReLU MLP, He-initialised, whose U unique hidden units are each
replicated r times (width U * r) plus independent noise of relative scale eps;
plain SGD, learning rate 0.1, a fixed number of steps (paper: 7,500), many seeds.
Each (U, r, eps, seed) adds a row to <output_dir>/<experiment>.csv (test
accuracy and loss); rows already there are skipped, so the grid resumes.
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_initstudy import datasets, errors, flagdefs, lazy, quiet, rundir  # noqa: E402

# TensorFlow and pandas: imported once the flags are valid.
keras = lazy.module("keras")
pd = lazy.module("pandas")
determinism = lazy.module("keras_initstudy.determinism")
pipeline = lazy.module("keras_initstudy.pipeline")
replicated = lazy.module("keras_initstudy.models.replicated")

FLAGS = flags.FLAGS
KEYS = ["unique", "replicas", "noise", "seed"]


def define_flags(fv=FLAGS):
    flags.DEFINE_enum("dataset", "fashion_mnist_mini", list(datasets.names()), "Dataset.", flag_values=fv)
    flags.DEFINE_string("data_dir", None, "Folder with the dataset's files.", flag_values=fv)
    flags.DEFINE_list("unique", ["1", "2", "4", "8", "16", "32", "64"], "Unique hidden units U.", flag_values=fv)
    flags.DEFINE_list("replicas", ["1", "4"], "Copies r of each unit (width U * r).", flag_values=fv)
    flags.DEFINE_list("noise", ["0", "0.1"], "Relative noise eps added to every copy.", flag_values=fv)
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds (paper: 30 per point).", flag_values=fv)
    flags.DEFINE_integer("steps", 7500, "SGD steps (paper 002 App. E: 7,500).", lower_bound=1, flag_values=fv)
    flags.DEFINE_integer("batch_size", 128, "Mini-batch size.", lower_bound=1, flag_values=fv)
    flags.DEFINE_float("learning_rate", 0.1, "SGD learning rate (paper 002 App. E: 0.1).", flag_values=fv)
    flags.DEFINE_float("dropout", 0.0, "Dropout after the hidden layer.", lower_bound=0.0, upper_bound=0.99,
                       flag_values=fv)
    flags.DEFINE_string("experiment", "replicate_features", "Name of the results table.", flag_values=fv)
    flags.DEFINE_string("output_dir", "runs", "Folder of the results table.", flag_values=fv)
    flags.DEFINE_bool("wait_for_lock", False, "When another process is writing the results table, wait for it "
                      "instead of exiting with an error.", flag_values=fv)

    def floats(v):
        try:
            return bool(v) and all(float(x) >= 0 for x in v)
        except ValueError:
            return False

    flags.register_validator("unique", flagdefs.int_list(1), "must be integers >= 1", flag_values=fv)
    flags.register_validator("replicas", flagdefs.int_list(1), "must be integers >= 1", flag_values=fv)
    flags.register_validator("seeds", flagdefs.int_list(0), "must be integers >= 0", flag_values=fv)
    flags.register_validator("noise", floats, "must be numbers >= 0", flag_values=fv)
    flags.register_validator("learning_rate", lambda v: v > 0, "must be > 0", flag_values=fv)


def train_one(data: datasets.Dataset, unique: int, replicas: int, noise: float, seed: int, steps: int,
              batch_size: int, learning_rate: float, dropout: float = 0.0) -> dict:
    """Trains one network for exactly `steps` SGD steps; returns its test metrics."""
    determinism.seed_everything(seed)
    model = replicated.build_replicated_mlp(data.info.input_shape, data.info.num_classes, unique, replicas, noise,
                                            dropout, seed=seed)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    stream = pipeline.train_stream(data.train, batch_size, seed, 0, steps)
    start = time.perf_counter()
    history = model.fit(stream, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    test_loss, test_accuracy = model.evaluate(pipeline.eval_batches(data.test), verbose=0)
    row = {"unique": unique, "replicas": replicas, "width": unique * replicas, "noise": noise, "seed": seed,
           "steps": steps, "test_accuracy": float(test_accuracy), "test_loss": float(test_loss),
           "train_loss": float(history.history["loss"][-1]), "wall_time": time.perf_counter() - start}
    keras.backend.clear_session()
    return row


def main(argv):
    if len(argv) > 1:
        sys.exit(f"replicate_features: error: unexpected arguments {' '.join(argv[1:])}")
    quiet.start_tensorflow()  # the flags are valid: TensorFlow starts, without its start-up noise
    path = rundir.output_file(FLAGS.output_dir, f"{FLAGS.experiment}.csv")
    with errors.one_line_errors("replicate_features", "rerun the same command: finished rows are kept"):
        with rundir.exclusive_lock(path + ".lock", path, wait=FLAGS.wait_for_lock):
            run_grid(path)


def run_grid(path: str) -> None:
    """Trains every grid point not yet in `path`, rewriting it (atomically) after each."""
    done = pd.read_csv(path) if os.path.exists(path) else pd.DataFrame(columns=KEYS + ["steps"])
    finished = {(int(r.unique), int(r.replicas), float(r.noise), int(r.seed)) for r in done.itertuples()
                if int(r.steps) == FLAGS.steps}
    grid = [(int(u), int(r), float(e), int(s)) for u in FLAGS.unique for r in FLAGS.replicas
            for e in FLAGS.noise for s in FLAGS.seeds]
    todo = [g for g in grid if g not in finished]
    print(f"replicate_features: {len(grid)} configurations, {len(grid) - len(todo)} already in {path}")
    data = datasets.load(FLAGS.dataset, FLAGS.data_dir)
    rows = done.to_dict("records")
    progress = keras.utils.Progbar(len(todo), unit_name="run")
    for i, (unique, replicas, noise, seed) in enumerate(todo):
        rows.append(train_one(data, unique, replicas, noise, seed, FLAGS.steps, FLAGS.batch_size,
                              FLAGS.learning_rate, FLAGS.dropout))
        rundir.write_text(path, pd.DataFrame(rows).to_csv(index=False))
        progress.update(i + 1)
    table = pd.DataFrame(rows)
    summary = table[table["steps"] == FLAGS.steps].groupby(["replicas", "noise", "unique"])["test_accuracy"]
    print(summary.agg(["mean", "std", "count"]).to_string())
    print(f"wrote {path}")


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=flagdefs.parser("replicate_features", __doc__))
