"""Seconds per training epoch: the package's run, a bare TensorFlow loop, PyTorch, and seed ensembles.

    python tools/benchmarks/benchmark_epoch.py                                    # embedded data and Fashion-MNIST
    python tools/benchmarks/benchmark_epoch.py --datasets=fashion_mnist_mini --ensemble_sizes=1,4 --repeats=1

For each dataset, in rounds that alternate the methods (so drifts in the machine's speed
touch them all), each trial trains --epochs epochs of the paper-000 MLP (width --width,
batch 128, SGD 0.1) and evaluates the test split after every epoch. An epoch's time is
the interval between successive epoch ends, so it holds everything an epoch costs
(training, evaluation, instruments, files); the first epoch (tracing) is left out, and
the figure is the median over the trials' remaining epochs.

    package       train_runner.run with the default instruments, into a temporary folder
    bare_tf       the same Keras model and data order in one tf.function per epoch: the floor
                  for TensorFlow here (no callbacks, no files)
    torch         an equivalent PyTorch eager loop, when torch is installed (not a dependency)
    ensemble_K    K seeds trained together (ensemble/), per member: epoch time / K
"""
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_initstudy import config, datasets, determinism, errors, pipeline, train_runner, training  # noqa: E402

flags.DEFINE_list("datasets", ["fashion_mnist_mini", "fashion_mnist"], "Datasets to time.")
flags.DEFINE_string("data_dir", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST's idx files.")
flags.DEFINE_integer("width", 256, "Hidden units per layer.", lower_bound=1)
flags.DEFINE_integer("epochs", 3, "Epochs per trial (the first is left out).", lower_bound=2)
flags.DEFINE_integer("repeats", 2, "Rounds over the methods.", lower_bound=1)
flags.DEFINE_list("ensemble_sizes", ["1", "4", "10", "32"], "Ensemble sizes K to time.")
flags.DEFINE_list("methods", ["package", "bare_tf", "torch", "ensemble"], "What to time.")
FLAGS = flags.FLAGS


class EpochEnds:
    """keras callback recording when each epoch ends (place it first: intervals then hold
    the previous epoch end's other callbacks)."""

    def __new__(cls):
        import keras

        class _EpochEnds(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.stamps = [time.perf_counter()]

            def on_epoch_end(self, epoch, logs=None):
                self.stamps.append(time.perf_counter())
        return _EpochEnds()


def steady(stamps):
    """Epoch intervals after the first."""
    return [b - a for a, b in zip(stamps[1:], stamps[2:])]


def base_config(dataset: str, out: str) -> config.ExperimentConfig:
    return config.ExperimentConfig().replace(
        dataset=dataset, data_dir=FLAGS.data_dir if dataset != "fashion_mnist_mini" else "",
        width=FLAGS.width, epochs=FLAGS.epochs, output_dir=out)


def time_package(cfg, data):
    clock = EpochEnds()
    train_runner.run(cfg, extra_callbacks=[clock], verbose=0, dataset=data)
    return steady(clock.stamps)


def time_ensemble(cfg, data, k):
    clock = EpochEnds()
    outcomes = train_runner.run_all([cfg.replace(seed=s) for s in range(k)], dataset=data, ensemble_callbacks=[clock])
    failed = [o for o in outcomes if isinstance(o, Exception)]
    if failed:
        raise failed[0]
    return [t / k for t in steady(clock.stamps)]


def time_bare_tf(cfg, data):
    """The package's model, optimizer and data order; one tf.function per epoch."""
    import keras
    import tensorflow as tf
    spec = training.build(cfg, data.info)
    model, optimizer = spec.model, spec.model.optimizer
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    per_epoch = pipeline.steps_per_epoch(len(data.train), cfg.training.batch_size)
    test = pipeline.eval_batches(data.test)

    @tf.function(jit_compile=True)  # XLA, as Keras's fit compiles its train step on this backend
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    @tf.function
    def train_epoch(batches, steps):
        loss = tf.constant(0.0)
        for _ in tf.range(steps):
            x, y = next(batches)
            loss = train_step(x, y)
        return loss

    @tf.function
    def evaluate(batches):
        correct, total = tf.constant(0.0), tf.constant(0.0)
        for x, y in batches:
            hits = tf.cast(tf.argmax(model(x, training=False), -1) == tf.cast(y, tf.int64), tf.float32)
            correct, total = correct + tf.reduce_sum(hits), total + tf.cast(tf.shape(y)[0], tf.float32)
        return correct / total

    batches = iter(training.train_stream(cfg, data, 0, cfg.training.epochs * per_epoch))
    stamps = [time.perf_counter()]
    for _ in range(cfg.training.epochs):
        float(train_epoch(batches, tf.constant(per_epoch)))
        float(evaluate(test))
        stamps.append(time.perf_counter())
    return steady(stamps)


def time_torch(cfg, data):
    import numpy as np
    import torch
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    inputs = int(np.prod(data.info.input_shape))
    width = cfg.model.width
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(inputs, width), torch.nn.ReLU(),
                                torch.nn.Linear(width, width), torch.nn.ReLU(),
                                torch.nn.Linear(width, data.info.num_classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.training.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_train = torch.from_numpy(np.ascontiguousarray(data.train.images, dtype=np.float32))
    y_train = torch.from_numpy(data.train.labels.astype(np.int64))
    x_test = torch.from_numpy(np.ascontiguousarray(data.test.images, dtype=np.float32))
    y_test = torch.from_numpy(data.test.labels.astype(np.int64))
    batch = cfg.training.batch_size
    stamps = [time.perf_counter()]
    for _ in range(cfg.training.epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), batch):
            chosen = order[i:i + batch]
            optimizer.zero_grad()
            loss_fn(model(x_train[chosen]), y_train[chosen]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(x_test[i:i + 1024]).argmax(1) == y_test[i:i + 1024]).sum())
                          for i in range(0, len(x_test), 1024))
        del correct
        stamps.append(time.perf_counter())
    return steady(stamps)


def trial_times(method: str, cfg, data):
    if method == "package":
        return time_package(cfg, data)
    if method == "bare_tf":
        return time_bare_tf(cfg, data)
    if method == "torch":
        return time_torch(cfg, data)
    return time_ensemble(cfg, data, int(method.split("_")[1]))


def have_torch() -> bool:
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def main(argv):
    del argv
    import keras
    sizes = [int(k) for k in FLAGS.ensemble_sizes]
    methods = [m for m in FLAGS.methods if m != "ensemble"] + (
        [f"ensemble_{k}" for k in sizes] if "ensemble" in FLAGS.methods else [])
    notes = []
    if "torch" in methods and not have_torch():
        methods.remove("torch")
        notes.append("torch: not installed, skipped (pip install torch to include it; it is not a dependency)")
    print(f"device: {determinism.device_description()}")
    print(f"MLP width {FLAGS.width}, depth 2, batch 128, SGD 0.1; {FLAGS.epochs} epochs per trial "
          f"(first left out), {FLAGS.repeats} rounds; seconds per epoch (ensembles: per member)")
    for note in notes:
        print(note)
    for dataset in FLAGS.datasets:
        with tempfile.TemporaryDirectory() as out:
            cfg = base_config(dataset, out)
            data = datasets.load(cfg.data.dataset, cfg.data.data_dir, cfg.data.download)
            times = {m: [] for m in methods}
            for repeat in range(FLAGS.repeats):
                for method in methods:
                    trial = cfg.replace(output_dir=os.path.join(out, f"{method}-{repeat}"))
                    with contextlib.redirect_stdout(io.StringIO()):  # the runs' own progress lines
                        times[method] += trial_times(method, trial, data)
                    keras.backend.clear_session()
        print(f"\n{dataset}: {len(data.train)} training images, {len(data.test)} test images")
        reference = statistics.median(times["package"]) if "package" in times else None
        for method in methods:
            median = statistics.median(times[method])
            ratio = f"  ({reference / median:.2f}x the package's single run)" if reference else ""
            print(f"  {method:12s} {median:7.3f} s   (min {min(times[method]):.3f}, "
                  f"max {max(times[method]):.3f}, n={len(times[method])}){ratio}")


if __name__ == "__main__":
    def run():
        try:
            app.run(main)
        except errors.UserError as e:
            sys.exit(f"benchmark_epoch: error: {e}")
    run()
