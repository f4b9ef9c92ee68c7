"""Iterative magnitude pruning with rewinding: one run directory, one sub-directory per round.

    python -m keras_initstudy.prune --model=lenet_300_100 --optimizer=adam --learning_rate=0.0012 \\
        --epochs=5 --rounds=20 --prune_fraction=0.2 --rewind=init --strategy=layerwise
    python -m keras_initstudy.prune --flagfile=flags/wijnja2020_xavier_normal_quick.flags
    python -m keras_initstudy.figures wijnja2020/fig3 --inputs=runs/wijnja2020_quick-table.parquet --out=fig3.png

Every train flag applies (--epochs or --steps is one round's length); the pruning
flags are --rounds, --prune_fraction, --prune_output_fraction, --strategy, --rewind,
--prune_biases, --prune_rounding, --reset_optimizer, --reinit. Rerunning a finished
command does nothing; a killed one resumes in the round it was in.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_initstudy import flagdefs  # noqa: E402
from keras_initstudy import lazy  # noqa: E402
from keras_initstudy.pruning.config import PruneExperimentConfig  # noqa: E402

rounds = lazy.module("keras_initstudy.pruning.rounds")  # TensorFlow: imported once the flags are valid

FLAGS = flags.FLAGS


def main(argv):
    cfg = flagdefs.config_or_exit("prune", argv, config_cls=PruneExperimentConfig)
    flagdefs.run_or_exit("prune", rounds.run, cfg, "rerun the same command to resume in the round it stopped in")


if __name__ == "__main__":
    flagdefs.define_train_flags(config_cls=PruneExperimentConfig)
    app.run(main, flags_parser=flagdefs.parser("prune", __doc__, [PruneExperimentConfig]))
