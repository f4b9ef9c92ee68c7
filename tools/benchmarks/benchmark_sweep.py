"""Wall time of one small grid run by the local executor and by Ray, 1 and 2 runs at a time.

    python tools/benchmarks/benchmark_sweep.py                      # 8 runs: widths 16..128 x seeds 0,1, 10 epochs
    python tools/benchmarks/benchmark_sweep.py --epochs=30 --axis=width=64,256 --axis=seed=0..3

Modes, each into a fresh temporary folder, in this order:
    local        one run after another in this process (TensorFlow's default thread pools)
    ray x1       Ray tasks of --cpus CPUs each: one run at a time, a fresh worker process per run
    ray x2       Ray tasks of --cpus / 2 CPUs each: two runs at a time
A Ray task starts a new Python process that imports TensorFlow (a few seconds), so Ray pays
off when runs are long compared with that start-up. Needs the [ray] extra.
"""
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_initstudy import config, determinism, executors, grid, sweep  # noqa: E402

flags.DEFINE_multi_string("axis", ["width=16,32,64,128", "seed=0,1"], "Grid axes, as sweep's --axis.")
flags.DEFINE_integer("epochs", 10, "Epochs per run.", lower_bound=1)
flags.DEFINE_string("dataset", "fashion_mnist_mini", "Dataset of every run.")
flags.DEFINE_string("data_dir", None, "Its files, where needed.")
flags.DEFINE_integer("cpus", os.cpu_count() or 2, "CPUs Ray may use.", lower_bound=2)
FLAGS = flags.FLAGS


def timed(configs, executor) -> float:
    start = time.perf_counter()
    _, failures = sweep.run_grid(configs, executor=executor, progress=False)
    if failures:
        sys.exit(f"benchmark_sweep: error: {failures[0]['run_name']}: {failures[0]['error']}")
    return time.perf_counter() - start


def main(argv):
    del argv
    base = config.ExperimentConfig().replace(epochs=FLAGS.epochs, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
                                             weight_images=False, snapshots="none")
    axes = grid.parse_axes(FLAGS.axis)
    with tempfile.TemporaryDirectory() as out:
        def configs(mode):
            return grid.expand(base.replace(output_dir=os.path.join(out, mode)), axes)

        count = len(configs("count"))
        print(f"device: {determinism.device_description()}; {os.cpu_count()} CPUs")
        print(f"grid: {count} runs ({', '.join(FLAGS.axis)}), {FLAGS.epochs} epochs each on {FLAGS.dataset}")
        times = {"local": timed(configs("local"), executors.LocalExecutor())}
        print(f"local:  {times['local']:.1f} s", flush=True)
        start = time.perf_counter()
        one = executors.RayExecutor(num_cpus=FLAGS.cpus, cpus_per_run=FLAGS.cpus)
        print(f"ray runtime start: {time.perf_counter() - start:.1f} s (not counted below)", flush=True)
        times["ray x1"] = timed(configs("ray1"), one)
        print(f"ray x1: {times['ray x1']:.1f} s ({FLAGS.cpus} CPUs per run)", flush=True)
        two = executors.RayExecutor(cpus_per_run=FLAGS.cpus / 2)
        times["ray x2"] = timed(configs("ray2"), two)
        print(f"ray x2: {times['ray x2']:.1f} s ({FLAGS.cpus / 2:g} CPUs per run)", flush=True)
    print("mode     wall (s)   per run (s)   local / mode")
    for mode, seconds in times.items():
        print(f"{mode:8s} {seconds:8.1f}   {seconds / count:11.2f}   {times['local'] / seconds:12.2f}")


if __name__ == "__main__":
    app.run(main)
