"""Trains one configuration under each symmetry-breaking mechanism, twice, and compares.

    python -m keras_initstudy.determinism_compare --flagfile=flags/blumenfeld2020_constnet_quick.flags
    python -m keras_initstudy.determinism_compare --model=mlp --epochs=3 --mechanisms=deterministic,simulated

Mechanisms (paper 002 §3, App. I):
    deterministic  tf.config.experimental.enable_op_determinism(); nothing breaks symmetry
    default        the framework's own arithmetic: non-deterministic on GPUs, not on CPUs
    simulated      deterministic ops + rounding-sized gradient noise (see optimizers.py)
    dropout        deterministic ops + dropout at --compare_dropout on every conv (seeded)
Prints and writes (<output_dir>/<experiment>-determinism.{csv,json}) one row per
mechanism: whether the two repeats are bit-identical, the max |w1 - w2| between
them, the minimum and mean forward correlation per stage after training, the
final training and test accuracy of each repeat, and the wall time. Each repeat is an
ordinary run directory, so the comparison resumes and reruns are free.
"""
from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_initstudy import config as config_lib  # noqa: E402
from keras_initstudy import datasets, errors, flagdefs, lazy, rundir  # noqa: E402
from keras_initstudy.analysis import correlations, summary  # noqa: E402

# TensorFlow and pandas: imported once the flags are valid.
keras = lazy.module("keras")
pd = lazy.module("pandas")
determinism = lazy.module("keras_initstudy.determinism")
train_runner = lazy.module("keras_initstudy.train_runner")
callbacks = lazy.module("keras_initstudy.callbacks")

FLAGS = flags.FLAGS
MECHANISMS = ("deterministic", "default", "simulated", "dropout")


def define_compare_flags(fv=FLAGS):
    flags.DEFINE_list("mechanisms", list(MECHANISMS), f"Mechanisms to compare, from {', '.join(MECHANISMS)}.",
                      flag_values=fv)
    flags.DEFINE_integer("repeats", 2, "Runs per mechanism (same seed).", lower_bound=2, flag_values=fv)
    flags.DEFINE_float("compare_dropout", 0.01, "Dropout rate of the 'dropout' mechanism (paper 002: 1%).",
                       lower_bound=0.0, upper_bound=0.99, flag_values=fv)
    flags.register_validator("mechanisms", lambda v: bool(v) and set(v) <= set(MECHANISMS),
                             f"must be names from {', '.join(MECHANISMS)}", flag_values=fv)


def mechanism_config(base: config_lib.ExperimentConfig, mechanism: str, repeat: int,
                     dropout: float) -> config_lib.ExperimentConfig:
    experiment = f"{base.experiment_name()}-{mechanism}-r{repeat}"
    if mechanism == "dropout":
        return base.replace(nondeterminism="deterministic", dropout=dropout, experiment=experiment)
    return base.replace(nondeterminism=mechanism, experiment=experiment)


def final_weights(run_dir: str):
    """{'stage1_block1_conv/kernel': array, ...} of a finished run's model."""
    return callbacks.snapshots.weights_by_path(keras.models.load_model(rundir.at(run_dir).model))


def stage_correlations(weights: dict, kind: str = "pearson") -> dict:
    """Minimum and mean forward correlation of the hidden kernels of each stage
    (MLP: of each hidden layer); the output layer is left out."""
    by_stage = {}
    for name, kernel in weights.items():
        if kernel.ndim >= 2 and not name.startswith("output/"):
            by_stage.setdefault(correlations.stage_of(name), []).append(correlations.forward(kernel, kind))
    out = {}
    for stage, values in by_stage.items():
        out[f"fwd_corr_min/{stage}"] = float(np.min(values))
        out[f"fwd_corr_mean/{stage}"] = float(np.mean(values))
    return out


def compare(base: config_lib.ExperimentConfig, mechanisms, repeats: int, dropout: float,
            dataset=None) -> pd.DataFrame:
    data = dataset or datasets.load(base.data.dataset, base.data.data_dir, base.data.download)
    rows = []
    for mechanism in mechanisms:
        run_dirs = []
        for repeat in range(1, repeats + 1):
            run_dirs.append(train_runner.run(mechanism_config(base, mechanism, repeat, dropout), verbose=0,
                                           dataset=data))
            keras.backend.clear_session()
        weights = [final_weights(d) for d in run_dirs]
        diffs = [max(float(np.max(np.abs(w[k].astype(np.float64) - weights[0][k]))) for k in w)
                 for w in weights[1:]]
        histories = [callbacks.read_history(rundir.at(d).history) for d in run_dirs]
        row = {"mechanism": mechanism, "bit_identical": all(d == 0.0 for d in diffs),
               "max_abs_diff": max(diffs)}
        row.update(stage_correlations(weights[0], base.measure.correlation))
        for repeat, history in enumerate(histories, start=1):
            result = summary.accuracy_summary(history)
            row[f"train_accuracy_r{repeat}"] = result["final_accuracy"]
            row[f"test_accuracy_r{repeat}"] = result["final_test_accuracy"]
            row[f"best_test_accuracy_r{repeat}"] = result["best_test_accuracy"]
        row["wall_time_s"] = sum(float(r["wall_time"]) for h in histories for r in h)
        rows.append(row)
    return pd.DataFrame(rows)


def hardware_note() -> str:
    device = determinism.device_description()
    if device == "CPU only":
        return (f"hardware: {device}; CPU arithmetic is deterministic, so only 'simulated' "
                "should differ between repeats")
    return f"hardware: {device}; on a GPU 'default' is expected to differ between repeats"


def main(argv):
    base = flagdefs.config_or_exit("determinism_compare", argv)
    note = hardware_note()
    print(note)
    prefix = rundir.output_file(base.run.output_dir, f"{base.experiment_name()}-determinism")
    with errors.one_line_errors("determinism_compare", "rerun the same command: finished runs are reused"):
        table = compare(base, FLAGS.mechanisms, FLAGS.repeats, FLAGS.compare_dropout)
        rundir.write_text(prefix + ".csv", table.to_csv(index=False))
        rundir.write_json(prefix + ".json", {"hardware": note, "config": base.nested(),
                                             "rows": json.loads(table.to_json(orient="records"))})
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.float_format", "{:.4g}".format):
        print(table.set_index("mechanism").T.to_string())
    print(f"wrote {prefix}.csv and {prefix}.json")


if __name__ == "__main__":
    flagdefs.define_train_flags()
    define_compare_flags()
    app.run(main, flags_parser=flagdefs.parser("determinism_compare", __doc__, [config_lib.ExperimentConfig]))
