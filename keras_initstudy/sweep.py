"""Runs a grid of training configurations and aggregates them into one table.

    python -m keras_initstudy.sweep --flagfile=flags/jesus2021_fig2_quick.flags
    python -m keras_initstudy.sweep --widths=10,50,250 --seeds=0,1,2 --epochs=50

Every train flag sets the base configuration; --datasets, --widths and --seeds
span the grid (one run directory each). Finished runs are skipped, interrupted
ones resume, and a failed run is recorded and the sweep goes on. At the end the
sweep writes <output_dir>/<experiment>-table.csv and .parquet: one row per run
and epoch (settings, losses, accuracies, RMSD total and per layer, and the
Appendix B fits at snapshot epochs), and <experiment>-failures.csv if any failed.
"""
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pandas as pd  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_initstudy import config as config_lib  # noqa: E402
from keras_initstudy import datasets, flagdefs, rundir, training  # noqa: E402
from keras_initstudy.analysis import runs  # noqa: E402

FLAGS = flags.FLAGS


def define_sweep_flags(fv=FLAGS):
    flags.DEFINE_list("datasets", [], "Datasets to sweep (default: --dataset alone).", flag_values=fv)
    flags.DEFINE_list("widths", ["10", "25", "50", "100", "250"], "Hidden-layer widths.", flag_values=fv)
    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds (paper 000: ten).", flag_values=fv)
    flags.DEFINE_string("table", "", "Path prefix of the aggregated table "
                        "(default <output_dir>/<experiment>-table).", flag_values=fv)
    flags.register_validator("widths", flagdefs.int_list(1), "must be a list of integers >= 1", flag_values=fv)
    flags.register_validator("seeds", flagdefs.int_list(0), "must be a list of integers >= 0", flag_values=fv)
    flags.register_validator("datasets", lambda v: all(d in datasets.names() for d in v),
                             f"must be names from: {', '.join(datasets.names())}", flag_values=fv)


def grid(base: config_lib.ExperimentConfig, dataset_names, widths, seeds):
    return [base.replace(dataset=d, width=int(w), seed=int(s))
            for d in dataset_names for w in widths for s in seeds]


def sweep_name(base: config_lib.ExperimentConfig) -> str:
    return base.run.experiment or "sweep"


def run_grid(configs, verbose_progress: bool = True):
    """Trains each config (skipping finished ones); returns (run_dirs, failures)."""
    progress = keras.utils.Progbar(len(configs), unit_name="run") if verbose_progress else None
    loaded = {}
    run_dirs, failures = [], []
    for i, cfg in enumerate(configs):
        try:
            key = (cfg.data.dataset, cfg.data.data_dir)
            if key not in loaded:
                loaded[key] = datasets.load(cfg.data.dataset, cfg.data.data_dir, cfg.data.download)
            run_dir = training.train(cfg, verbose=0, dataset=loaded[key])
            runs.fits(run_dir)  # computed once, cached in the run directory
            run_dirs.append(run_dir)
        except Exception as e:  # record and go on: one bad run must not end a long sweep
            failures.append({"run_name": cfg.run_name(), "dataset": cfg.data.dataset,
                             "width": cfg.model.width, "seed": cfg.training.seed,
                             "error": f"{type(e).__name__}: {e}".splitlines()[0],
                             "traceback": traceback.format_exc()})
        finally:
            keras.backend.clear_session()
            if progress:
                progress.update(i + 1)
    return run_dirs, failures


def write_table(frame: pd.DataFrame, prefix: str) -> None:
    rundir.write_text(prefix + ".csv", frame.to_csv(index=False))
    with rundir.atomic_path(prefix + ".parquet") as tmp:
        frame.to_parquet(tmp, index=False)


def main(argv):
    base = flagdefs.config_or_exit("sweep", argv)
    configs = grid(base, FLAGS.datasets or [base.data.dataset], FLAGS.widths, FLAGS.seeds)
    prefix = FLAGS.table or os.path.join(base.run.output_dir, f"{sweep_name(base)}-table")
    print(f"sweep: {len(configs)} runs into {base.run.output_dir}")
    run_dirs, failures = run_grid(configs)
    write_table(runs.table(run_dirs), prefix)
    print(f"table: {prefix}.csv, {prefix}.parquet ({len(run_dirs)} runs)")
    if failures:
        write_table(pd.DataFrame(failures), prefix.replace("-table", "") + "-failures")
        sys.exit(f"sweep: {len(failures)} of {len(configs)} runs failed; see {prefix.replace('-table', '')}"
                 f"-failures.csv (first: {failures[0]['run_name']}: {failures[0]['error']})")


if __name__ == "__main__":
    flagdefs.define_train_flags()
    define_sweep_flags()
    app.run(main)
