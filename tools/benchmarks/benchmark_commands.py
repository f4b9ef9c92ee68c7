"""Wall time of the README's commands, end to end (start-up, data, training, outputs), each
into a fresh temporary folder, with the machine they ran on: the source of the README's timings.

    python tools/benchmarks/benchmark_commands.py                              # the default run
    python tools/benchmarks/benchmark_commands.py --commands=default,quick_sweep --repeats=2

A loaded machine is slower: the load average before each command is printed with it.
"""
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMANDS = {
    "default": "-m keras_initstudy.train",
    "quick_sweep": "-m keras_initstudy.sweep --flagfile=flags/jesus2021_fig2_quick.flags",
    "constnet_quick": "-m keras_initstudy.determinism_compare --flagfile=flags/blumenfeld2020_constnet_quick.flags",
    "bad_flag": "-m keras_initstudy.train --widht=3",
    "tests": "-m pytest tests -q -p no:cacheprovider",  # the README's test command (minutes)
    "tests_not_slow": "-m pytest tests -q -p no:cacheprovider -m 'not slow'",
}
WITHOUT_OUTPUT_DIR = {"tests", "tests_not_slow"}  # commands that take no --output_dir
flags.DEFINE_list("commands", ["default"], f"Commands to time: {', '.join(COMMANDS)}.")
flags.DEFINE_integer("repeats", 1, "Times each command runs (the median is reported).", lower_bound=1)
FLAGS = flags.FLAGS


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}"


def main(argv):
    del argv
    unknown = [c for c in FLAGS.commands if c not in COMMANDS]
    if unknown:
        sys.exit(f"benchmark_commands: error: unknown command(s) {', '.join(unknown)}")
    print(f"machine: {machine()}")
    for name in FLAGS.commands:
        times = []
        for _ in range(FLAGS.repeats):
            with tempfile.TemporaryDirectory() as out:
                load = os.getloadavg()[0]
                args = [sys.executable, *shlex.split(COMMANDS[name])]
                args += [] if name in WITHOUT_OUTPUT_DIR else [f"--output_dir={out}"]
                start = time.perf_counter()
                result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
                times.append(time.perf_counter() - start)
                expected = 1 if name == "bad_flag" else 0
                if result.returncode != expected:
                    tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
                    sys.exit(f"benchmark_commands: {name} exited {result.returncode} after "
                             f"{times[-1]:.0f} s:\n" + "\n".join(tail))
            print(f"{name:15s} {times[-1]:8.2f} s   (load average before: {load:.2f})", flush=True)
        print(f"{name:15s} median {statistics.median(times):.2f} s over {len(times)}: python {COMMANDS[name]}")


if __name__ == "__main__":
    app.run(main)
