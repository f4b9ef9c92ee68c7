"""Prints the wall time of one training epoch (median over epochs after the first).

    python tools/benchmark_epoch.py                                   # embedded data
    python tools/benchmark_epoch.py --dataset=fashion_mnist --data_dir=/usr/share/datasets/fashion-mnist

Takes the train binary's flags; trains into a temporary folder and reads history.csv.
"""
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_initstudy import callbacks, determinism, errors, flagdefs, rundir, training  # noqa: E402

FLAGS = flags.FLAGS


def main(argv):
    del argv
    cfg = flagdefs.config_from_flags(FLAGS)
    with tempfile.TemporaryDirectory() as out:
        cfg = cfg.replace(output_dir=out)
        start = time.perf_counter()
        try:
            run_dir = training.train(cfg, verbose=0)
        except errors.UserError as e:
            sys.exit(f"benchmark_epoch: error: {e}")
        total = time.perf_counter() - start
        rows = callbacks.read_history(rundir.history_path(run_dir))
    times = [float(r["wall_time"]) for r in rows]
    steady = times[1:] or times
    print(f"device: {determinism.device_description()}")
    print(f"dataset={cfg.data.dataset} width={cfg.model.width} depth={cfg.model.depth} "
          f"batch={cfg.training.batch_size} epochs={len(times)}")
    print(f"first epoch: {times[0]:.3f} s (includes tracing)")
    print(f"epoch wall time: median {statistics.median(steady):.3f} s, "
          f"min {min(steady):.3f} s, max {max(steady):.3f} s")
    print(f"whole run incl. data loading and saving: {total:.1f} s")


if __name__ == "__main__":
    flagdefs.define_train_flags()
    FLAGS.set_default("epochs", 5)
    app.run(main)
