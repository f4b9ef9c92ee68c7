"""Cost of pruning masks: median epoch wall time of the same model dense and masked.

    python tools/benchmarks/benchmark_masks.py                                   # LeNet-300-100, embedded data
    python tools/benchmarks/benchmark_masks.py --dataset=fashion_mnist --data_dir=/usr/share/datasets/fashion-mnist

Both runs train the same model, data and seed for --epochs epochs in this process,
alternating dense and masked epoch blocks (--repeats) so that drifting machine load
hits both alike; the masked one has every prunable kernel masked (half its weights
zero), so each step also multiplies those kernels by their masks. Prints the median
epoch times (first epoch of each block dropped: tracing) and the masked overhead.
"""
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_initstudy import config, datasets, determinism, pipeline, training  # noqa: E402
from keras_initstudy.pruning import masks as masks_lib  # noqa: E402

flags.DEFINE_string("model", "lenet_300_100", "Model to time.")
flags.DEFINE_string("dataset", "fashion_mnist_mini", "Dataset.")
flags.DEFINE_string("data_dir", None, "Its files, where needed.")
flags.DEFINE_integer("batch_size", 60, "Batch size (paper 003's code: 60).", lower_bound=1)
flags.DEFINE_integer("epochs", 4, "Epochs per block.", lower_bound=2)
flags.DEFINE_integer("repeats", 3, "Blocks of each kind, alternating.", lower_bound=1)
FLAGS = flags.FLAGS


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def block(cfg, data, masked: bool) -> list:
    keras.backend.clear_session()
    per_epoch = pipeline.steps_per_epoch(len(data.train), cfg.training.batch_size)
    spec = training.build(cfg, data.info, per_epoch)
    if masked:
        masks = masks_lib.Masks.attach(spec)
        rng = np.random.default_rng(0)
        masks.assign({n: rng.random(v.shape) < 0.5 for n, v in masks.variables.items()})
    timer = EpochTimer()
    stream = pipeline.train_stream(data.train, cfg.training.batch_size, 0, 0, per_epoch * FLAGS.epochs)
    spec.model.fit(stream, epochs=FLAGS.epochs, steps_per_epoch=per_epoch, callbacks=[timer], verbose=0)
    return timer.times[1:]


def main(argv):
    del argv
    cfg = config.ExperimentConfig().replace(model=FLAGS.model, dataset=FLAGS.dataset, optimizer="adam",
                                            learning_rate=0.0012, batch_size=FLAGS.batch_size)
    data = datasets.load(FLAGS.dataset, FLAGS.data_dir)
    times = {False: [], True: []}
    for _ in range(FLAGS.repeats):
        for masked in (False, True):
            times[masked] += block(cfg, data, masked)
    dense, masked = statistics.median(times[False]), statistics.median(times[True])
    print(f"device: {determinism.device_description()}; model={FLAGS.model} dataset={FLAGS.dataset} "
          f"batch={FLAGS.batch_size}; {len(times[False])} epochs of each kind")
    print(f"dense:  median {dense:.3f} s/epoch (min {min(times[False]):.3f}, max {max(times[False]):.3f})")
    print(f"masked: median {masked:.3f} s/epoch (min {min(times[True]):.3f}, max {max(times[True]):.3f})")
    print(f"masked overhead: {(masked / dense - 1) * 100:+.1f}%")


if __name__ == "__main__":
    app.run(main)
