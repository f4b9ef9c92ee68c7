"""Runs a grid of any runner's configurations and aggregates them into one table.

    python -m keras_initstudy.sweep --flagfile=flags/jesus2021_fig2_quick.flags
    python -m keras_initstudy.sweep --axis=width=10,25,50,100 --axis=seed=0..9 --epochs=50
    python -m keras_initstudy.sweep ... --executor=ray --cpus_per_run=1          # local Ray runtime
    python -m keras_initstudy.sweep ... --executor=ray --ray_address=auto        # an existing cluster
    python -m keras_initstudy.sweep --runner=prune --flagfile=flags/wijnja2020_xavier_normal.flags

Every flag of the runner (`--runner=train`) sets the base configuration; each
`--axis=name=v1,v2` (or `name=a..b`) spans one dimension of the grid, over any
setting. Finished runs are skipped, interrupted ones resume, and a failed run is
recorded and the sweep goes on. At the end the sweep writes
<output_dir>/<experiment>-table.csv and .parquet (one row per run and epoch:
settings, losses, accuracies, RMSD total and per layer, Appendix B fits at
snapshot epochs) and <experiment>-failures.csv if any run failed.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_initstudy import errors, executors, flagdefs, grid, lazy, rundir, runners, settings  # noqa: E402
from keras_initstudy.ensemble import grouping as ensemble_grouping  # noqa: E402

pd = lazy.module("pandas")

FLAGS = flags.FLAGS


def define_sweep_flags(fv=FLAGS):
    flags.DEFINE_multi_string("axis", [], "A grid axis over any setting: name=v1,v2,... or name=a..b "
                              "(integers, inclusive). Repeat for more axes; the first is outermost.",
                              flag_values=fv)
    flags.DEFINE_enum("runner", "train", list(runners.names()), "What each grid point runs.", flag_values=fv)
    flags.DEFINE_enum("executor", "local", ["local", "ray"], "local: one run after another in this process; "
                      "ray: one Ray task (its own worker process) per run.", flag_values=fv)
    flags.DEFINE_string("ray_address", None, "ray: unset starts a local runtime; 'auto' or an address joins "
                        "a cluster.", flag_values=fv)
    flags.DEFINE_integer("ray_num_cpus", None, "ray, local runtime: CPUs it may use (default: all).",
                         lower_bound=1, flag_values=fv)
    flags.DEFINE_float("cpus_per_run", 1.0, "ray: CPUs reserved per run (TensorFlow's thread pools are sized "
                       "to match).", lower_bound=0.01, flag_values=fv)
    flags.DEFINE_float("gpus_per_run", 0.0, "ray: GPUs reserved per run (fractions share a GPU).",
                       lower_bound=0.0, flag_values=fv)
    flags.DEFINE_integer("max_retries", 3, "ray: times a run whose worker died is retried (it resumes).",
                         lower_bound=0, flag_values=fv)
    flags.DEFINE_integer("ensemble_size", None, "Runs that differ only in their seeds train together as one "
                         "seed ensemble of up to this many (MLP family, train runner; each keeps its own run "
                         "directory). Default: 10 on a CPU, 32 on a GPU (ensemble/grouping.py); 1: one by one.",
                         lower_bound=1, flag_values=fv)
    flags.DEFINE_string("table", "", "Path prefix of the aggregated table "
                        "(default <output_dir>/<experiment>-table).", flag_values=fv)


def sweep_name(base) -> str:
    return base.run.experiment or "sweep"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """One line per finished group of runs (an ensemble's members finish together): done /
    total, failures, elapsed, estimated time left at the rate of the runs trained so far."""

    def __init__(self, total: int, skipped: int, stream=sys.stdout):
        self.total, self.done, self.failed, self.skipped = total, skipped, 0, skipped
        self.start = time.perf_counter()
        self.stream = stream

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        trained = self.done - self.skipped
        left = "unknown" if not trained else _clock(elapsed / trained * (self.total - self.done))
        return (f"sweep: {self.done}/{self.total} runs done ({self.skipped} already finished), "
                f"{self.failed} failed, {_clock(elapsed)} elapsed, about {left} left")

    def update(self, finished: int, failed: int = 0) -> None:
        self.done += finished
        self.failed += failed
        print(self.line(), file=self.stream, flush=True)


def run_grid(configs, runner_name: str = "train", executor=None, progress: bool = True, ensemble_size: int = 1):
    """Runs every config not yet finished, those differing only in seeds as ensembles of up
    to ensemble_size; returns (run_dirs in grid order, failure rows). Each failure's cause
    is printed when it happens; a run that failed here because another process held it, and
    that the other process finished, counts as finished."""
    executor = executor or executors.LocalExecutor()
    configs = executors.absolute_paths(configs)
    complete = runners.get(runner_name).is_complete
    todo = [i for i, c in enumerate(configs) if not complete(c, rundir.path_for(c))]
    tracker = Progress(len(configs), len(configs) - len(todo)) if progress else None
    outcomes = {i: rundir.path_for(c) for i, c in enumerate(configs) if i not in todo}
    for finished in executor.run(runner_name, [configs[i] for i in todo], ensemble_size=ensemble_size):
        failed = 0
        for position, outcome in finished:
            cfg = configs[todo[position]]
            outcomes[todo[position]] = outcome
            if isinstance(outcome, executors.Failure):
                failed += 1
                print(f"sweep: {cfg.run_name()} failed: {outcome.error}", file=sys.stderr, flush=True)
        if tracker:
            tracker.update(len(finished), failed)
    run_dirs, failures = [], []
    columns = ("dataset", "model", "seed", *grid_axes(configs)) if any(
        isinstance(o, executors.Failure) for o in outcomes.values()) else ()
    for i, cfg in enumerate(configs):
        outcome = outcomes[i]
        if isinstance(outcome, executors.Failure) and not complete(cfg, rundir.path_for(cfg)):
            settings_ = cfg.flat()
            failures.append({"run_name": cfg.run_name(), **{k: settings_[k] for k in columns},
                             "error": outcome.error, "traceback": outcome.traceback})
        else:
            run_dirs.append(rundir.path_for(cfg) if isinstance(outcome, executors.Failure) else outcome)
    return run_dirs, failures


def grid_axes(configs) -> list:
    """The settings that differ between the grid's configs (its axes), in config order."""
    flats = [c.flat() for c in configs]
    return [k for k in flats[0] if len({repr(f.get(k)) for f in flats}) > 1] if flats else []


def write_failures(failures, prefix: str) -> None:
    """<prefix>.csv and .parquet describe this sweep's failures only: written when there are
    some, removed when there are none (a clean rerun leaves no earlier sweep's failures)."""
    if failures:
        rundir.write_table(pd.DataFrame(failures), prefix)
        return
    for suffix in (".csv", ".parquet"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(prefix + suffix)


def define_runner_flags(fv=FLAGS):
    """Every runner's config flags (the pruning runner's are a superset of train's)."""
    widest = max((runners.config_class(n) for n in runners.names()), key=lambda c: len(c.field_names()))
    flagdefs.define_train_flags(fv, config_cls=widest)


def main(argv):
    config_cls = runners.config_class(FLAGS.runner)
    base = flagdefs.config_or_exit("sweep", argv, config_cls=config_cls)
    try:
        axes = grid.parse_axes(FLAGS.axis, config_cls)
        configs = grid.expand(base, axes)
        executor = executors.make(FLAGS.executor, **({} if FLAGS.executor == "local" else dict(
            address=FLAGS.ray_address, cpus_per_run=FLAGS.cpus_per_run, gpus_per_run=FLAGS.gpus_per_run,
            max_retries=FLAGS.max_retries, num_cpus=FLAGS.ray_num_cpus)))
    except (settings.ConfigError, errors.UserError) as e:
        sys.exit(f"sweep: error: {e}")
    prefix = FLAGS.table or rundir.output_file(base.run.output_dir, f"{sweep_name(base)}-table")
    print(f"sweep: {len(configs)} runs into {base.run.output_dir} ({FLAGS.executor} executor)")
    failures_prefix = prefix[:-len("-table")] if prefix.endswith("-table") else prefix
    with errors.one_line_errors("sweep", "rerun the same command: finished runs are skipped, others resume"):
        os.makedirs(base.run.output_dir, exist_ok=True)
        size = FLAGS.ensemble_size or ensemble_grouping.default_size()
        run_dirs, failures = run_grid(configs, FLAGS.runner, executor, ensemble_size=size)
        rundir.write_table(runners.get(FLAGS.runner).table(run_dirs), prefix)
        write_failures(failures, failures_prefix + "-failures")
    print(f"table: {prefix}.csv, {prefix}.parquet ({len(run_dirs)} runs)")
    if failures:
        sys.exit(f"sweep: {len(failures)} of {len(configs)} runs failed; see {failures_prefix}-failures.csv "
                 f"(first: {failures[0]['run_name']}: {failures[0]['error']})")


if __name__ == "__main__":
    define_runner_flags()
    define_sweep_flags()
    app.run(main, flags_parser=flagdefs.parser("sweep", __doc__, [runners.config_class(n) for n in runners.names()]))
