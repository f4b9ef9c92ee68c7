"""Which runs can train together as one seed ensemble, and in which groups.

Runs group when they differ only in their seeds (--seed, --init_seed, --data_seed),
train with a runner registered as able to (runners.register(..., ensembles=True): the caller
says, as runner_stacks), use a model whose config says it is `stackable` (a
chain of Dense layers: the MLP family) and do not use float16 loss scaling (its scale
is shared: one member's overflow would skip every member's step). No TensorFlow here:
sweeps group before anything is imported.
"""
from typing import Callable, Dict, Hashable, List, Optional, Sequence

from keras_initstudy import errors

SEED_FIELDS = ("seed", "init_seed", "data_seed")

# The rule: the smallest K whose seconds per member-epoch (tools/benchmarks/benchmark_epoch.py, width 256,
# full Fashion-MNIST) are within 10% of the best measured K's. On the 2-core CPU: 1.049, 0.904,
# 0.798, 0.769 s at K = 1, 4, 10, 32, so 10. No GPU was at hand to measure: 32 there, the
# largest K measured, until the benchmark is run on one (README: Benchmarks).
DEFAULT_SIZE = {"cpu": 10, "gpu": 32}


def default_size(has_gpu: Callable[[], bool] = None) -> int:
    """--ensemble_size's default for this machine: DEFAULT_SIZE by device kind."""
    if has_gpu is None:
        def has_gpu():
            import tensorflow as tf
            return bool(tf.config.list_physical_devices("GPU"))
    return DEFAULT_SIZE["gpu" if has_gpu() else "cpu"]


def why_not(cfg, runner_stacks: bool = True) -> Optional[str]:
    """Why `cfg` cannot train in an ensemble, or None if it can. `runner_stacks`: whether its
    runner trains seeds together (runners.ensembles(name))."""
    if not runner_stacks:
        return "its runner trains one run at a time"
    if not getattr(type(cfg.model), "stackable", False):
        return f"model {cfg.model_name} is not a chain of Dense layers"
    if cfg.training.dtype == "mixed_float16":
        return "mixed_float16 scales the loss of all members together"
    return None


def key(cfg) -> Hashable:
    """Equal for configs that differ only in their seeds."""
    return (type(cfg).__name__, tuple(sorted((k, repr(v)) for k, v in cfg.flat().items() if k not in SEED_FIELDS)))


def check_alike(cfgs: Sequence) -> None:
    reasons = {why_not(c) for c in cfgs} - {None}
    if reasons:
        raise errors.UserError(f"cannot train as an ensemble: {'; '.join(sorted(reasons))}")
    if len({key(c) for c in cfgs}) > 1:
        raise errors.UserError("ensemble members must differ only in their seeds")


def groups(cfgs: Sequence, size: int, runner_stacks: bool = True) -> List[List[int]]:
    """Indices of `cfgs` in groups of at most `size` alike configs (grid order kept within
    a group); a config that cannot join an ensemble is a group of its own."""
    if size < 1:
        raise ValueError(f"ensemble size must be >= 1, got {size}")
    found: List[List[int]] = []
    open_groups: Dict[Hashable, List[int]] = {}
    for i, cfg in enumerate(cfgs):
        if size == 1 or why_not(cfg, runner_stacks) is not None:
            found.append([i])
            continue
        group = open_groups.get(key(cfg))
        if group is None or len(group) == size:
            group = open_groups[key(cfg)] = []
            found.append(group)
        group.append(i)
    return found
