"""Prints the extra wall time per epoch that paper 000's instruments cost.

    python tools/benchmarks/benchmark_callbacks.py [--width=256 --epochs=20 --dataset=...]

Trains the same configuration (train flags) with the instruments off, then adding
them one at a time: RMSD per epoch, snapshots (the --snapshots schedule,
default log:10), TensorBoard weight images and histograms, RMSD every 10 steps.
Reports the mean epoch wall time over epochs 2..N (epoch 1 includes tracing).
"""
import os
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_initstudy import callbacks, determinism, flagdefs, rundir, train_runner  # noqa: E402

FLAGS = flags.FLAGS

VARIANTS = (
    ("no instruments", dict(rmsd=False, snapshots="none", weight_images=False, rmsd_every_steps=0)),
    ("+ RMSD per epoch", dict(rmsd=True, snapshots="none", weight_images=False, rmsd_every_steps=0)),
    ("+ snapshots", dict(rmsd=True, weight_images=False, rmsd_every_steps=0)),
    ("+ weight images/histograms", dict(rmsd=True, weight_images=True, rmsd_every_steps=0)),
    ("+ RMSD every 10 steps", dict(rmsd=True, weight_images=True, rmsd_every_steps=10)),
)


def main(argv):
    del argv
    base = flagdefs.config_from_flags(FLAGS)
    print(f"device: {determinism.device_description()}; dataset={base.data.dataset} width={base.model.width} "
          f"epochs={base.training.epochs} snapshots={base.measure.snapshots}")
    baseline = None
    for name, changes in VARIANTS:
        with tempfile.TemporaryDirectory() as out:
            cfg = base.replace(output_dir=out, **{k: v for k, v in changes.items()})
            run_dir = train_runner.run(cfg, verbose=0)
            times = [float(r["wall_time"]) for r in callbacks.read_history(rundir.at(run_dir).history)][1:]
            snapshot_bytes = [os.path.getsize(rundir.at(run_dir).snapshot(e))
                              for e in rundir.at(run_dir).snapshot_epochs()]
        keras.backend.clear_session()
        mean = statistics.mean(times)
        baseline = baseline if baseline is not None else mean
        extra = f"{(mean - baseline) * 1000:+7.1f} ms ({(mean / baseline - 1) * 100:+5.1f}%)"
        sizes = f"; {len(snapshot_bytes)} snapshots, {statistics.mean(snapshot_bytes) / 1e6:.2f} MB each" \
            if snapshot_bytes else ""
        print(f"{name:30s} {mean * 1000:7.1f} ms/epoch  vs none {extra}{sizes}")


if __name__ == "__main__":
    flagdefs.define_train_flags()
    FLAGS.set_default("epochs", 20)
    app.run(main)
