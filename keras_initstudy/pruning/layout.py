"""Where a pruning run keeps its rounds and branches, and which are still to train; no
TensorFlow here, so a sweep's driver can ask without importing it.

    <run_dir>/round-NN/                      round NN of the IMP trunk
    <run_dir>/round-NN/branches/NAME/        one training of re-initialisation NAME on round NN's mask
"""
from typing import List, Tuple

from keras_initstudy import rundir


def pending_branches(cfg, run_dir: str) -> List[Tuple[int, str]]:
    """(round, branch) pairs asked for (rounds 1.. of --branches) and not yet done."""
    return [(r, name) for r in range(1, cfg.pruning.rounds) for name in cfg.pruning.branch_names()
            if not rundir.at(run_dir).round(r).branch(name).is_done()]


def is_complete(cfg, run_dir: str) -> bool:
    """The trunk is done and so is every branch asked for."""
    return rundir.at(run_dir).is_done() and not pending_branches(cfg, run_dir)
