"""Trains one model into one run directory.

    python -m keras_initstudy.train                      # paper-000 MLP on the embedded data
    python -m keras_initstudy.train --dataset=hasyv2 --width=256
    python -m keras_initstudy.train --flagfile=flags/jesus2021_mlp_hasyv2.flags

Watch it with `tensorboard --logdir=<output_dir>`. Rerunning a finished command
does nothing; rerunning an interrupted one resumes after its last epoch.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ start-up chatter

from absl import app, flags  # noqa: E402

from keras_initstudy import config as config_lib  # noqa: E402
from keras_initstudy import flagdefs, lazy  # noqa: E402

train_runner = lazy.module("keras_initstudy.train_runner")  # TensorFlow: imported once the flags are valid

FLAGS = flags.FLAGS


def main(argv):
    cfg = flagdefs.config_or_exit("train", argv)
    flagdefs.run_or_exit("train", train_runner.run, cfg, "rerun the same command to resume from the last checkpoint")


if __name__ == "__main__":
    flagdefs.define_train_flags()
    app.run(main, flags_parser=flagdefs.parser("train", __doc__, [config_lib.ExperimentConfig]))
