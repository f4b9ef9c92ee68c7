"""Settings of iterative magnitude pruning (IMP), and the config of a pruning run.

A pruning run is a training config (every train flag: model, data, optimizer, epochs
or steps per round) plus these settings. Its identity (run hash) counts them too, so
a pruning run never shares a directory with a training run.
"""
import dataclasses
from typing import Any, ClassVar, Dict, List, Optional

from keras_initstudy import config, settings
from keras_initstudy import steps as steps_lib
from keras_initstudy.pruning import perturb
from keras_initstudy.settings import OMIT, at_least, between, setting


def _split(text: str) -> List[str]:
    return [b.strip() for b in text.split(",") if b.strip()]


def _check_branch(name: str) -> None:
    if name == "none" or name not in perturb.names():
        raise ValueError(name)


REWIND_TARGETS = ("init", "torch_default_init")  # besides steps of round 0


def _check_rewind(text: str) -> None:
    if text not in REWIND_TARGETS:
        steps_lib.check_text(text)


@dataclasses.dataclass(frozen=True)
class PruneConfig:
    rounds: int = setting(20, "Trainings in all: round 0 trains the dense network, each later round prunes, "
                          "rewinds and trains again (paper 003: 20 rounds of 5 epochs).", at_least(1))
    prune_fraction: float = setting(0.2, "Fraction of the remaining weights pruned each round (paper 003: 0.2).",
                                    between(0.0, 0.99))
    prune_output_fraction: Optional[float] = setting(
        None, "Fraction for the output layer (default: half of --prune_fraction, as Frankle & Carbin 2019; "
        "global: 0 leaves the output layer unpruned).", settings.optional(between(0.0, 0.99)),
        identity=lambda p: p.output_fraction())  # the default counts as the half it resolves into
    strategy: str = setting("layerwise", "layerwise: each layer loses the fraction of its own weights; global: "
                            "one magnitude threshold over all prunable weights (open_lth's sparse_global).",
                            choices=("layerwise", "global"))
    rewind: str = setting("init", "Where survivors are reset to: init (their initial values), a step of "
                          "round 0 (0, 500it, 2ep), whose weights and optimizer state are restored, or "
                          "torch_default_init (kernels redrawn by PyTorch's default scheme with the run's seed, "
                          "the same for every --kernel_initializer; biases their initial values: what paper "
                          "003's code resets to, having saved the weights before its initialisation).",
                          settings.parses(_check_rewind, "must be init, torch_default_init or a step (500it, 2ep)"),
                          identity=lambda p: "0it" if p.rewind in ("init", "0", "0it", "0ep") else p.rewind)
    prune_biases: bool = setting(False, "Prune biases too (the released code of paper 003 does).")
    prune_rounding: str = setting("ceil", "Weights pruned = ceil (open_lth) or floor (paper 003's code) of "
                                  "fraction x remaining.", choices=("ceil", "floor"))
    reset_optimizer: bool = setting(True, "Restore the optimizer state of the rewind step each round (off: keep "
                                    "the state and step count the previous round ended with, as paper 003's "
                                    "code does).")
    rewind_optimizer: str = setting("restore", "What the optimizer holds after rewinding to a step k: restore (its "
                                    "state at k, momentum buffers included) or fresh (a new optimizer: every "
                                    "buffer zero, the step count and so the learning-rate schedule at k, as "
                                    "open_lth, paper 004's code, loads w(k)).", choices=("restore", "fresh"))
    reinit: str = setting("none", "Surviving weights after rewinding, in every round (they also decide the next "
                          "mask): none (the rewound values), random (a fresh draw of the initializer), or one of "
                          "paper 004's re-initialisations (pruning/perturb.py).", choices=perturb.names())
    branches: str = setting("", "Comma-separated re-initialisations each round r >= 1 also trains once, on "
                            "round r's mask and rewind state (open_lth's lottery branches; paper 004 Figs. 4-5), "
                            "into round-NN/branches/NAME/. Added later to a finished run, only they train.",
                            settings.parses(lambda text: [_check_branch(b) for b in _split(text)],
                                            "must be names of pruning/perturb.py, not none"),
                            hashed=False)

    pretrain: str = setting("none", "Before IMP, train the dense network on an altered task, then run IMP from, and "
                            "rewinding to, its end (paper 004 §6): random_labels, blur, rotation (4-way head, "
                            "replaced by the real one afterwards), or none.",
                            choices=("none", "random_labels", "blur", "rotation"))
    pretrain_protocol: str = setting(
        "open_lth", "How --pretrain runs. open_lth (paper 004's code): random labels drawn uniformly per image; "
        "rotation gives each image one seeded label 0-3 and rotates it by label x 90 degrees, keeping the "
        "output layer; the main training then starts at step = --pretrain_length (its schedule fast-forwarded) "
        "and ends where an unpretrained one does. package: labels permuted; every image in all four "
        "rotations with a 4-way head replaced by w(0)'s; the main training runs its full length from step 0.",
        choices=("open_lth", "package"),  # runs without pre-training keep their hashes
        identity=lambda p: OMIT if p.pretrain == "none" else p.pretrain_protocol)
    pretrain_length: str = setting("2ep", "Length of --pretrain (500it, 2ep).",
                                   settings.parses(steps_lib.check_text, "must be a step (500it, 2ep)"))
    pretrain_blur_factor: int = setting(4, "--pretrain=blur: downsample by this factor, then upsample back.",
                                        at_least(2))
    sparse_pretrain: bool = setting(False, "With --pretrain: each round r >= 1 pre-trains its own pruned network "
                                    "from w(0) (sparse pre-training) instead of rewinding to the dense one's.")

    def __post_init__(self):
        settings.validate_fields(self)
        if self.pretrain != "none" and not (self.rewind == "init" or self.rewind not in REWIND_TARGETS
                                            and steps_lib.Step.parse(self.rewind, 1).iteration == 0):
            raise settings.ConfigError(f"--pretrain rewinds to the end of pre-training: --rewind={self.rewind} "
                                       "must be 0 (or init) with it")
        if self.rewind_optimizer == "fresh" and not self.reset_optimizer:
            raise settings.ConfigError("--rewind_optimizer=fresh rewinds the optimizer: it needs --reset_optimizer")
        if self.sparse_pretrain and self.pretrain == "none":
            raise settings.ConfigError("--sparse_pretrain needs --pretrain")
        if self.sparse_pretrain and self.branches:
            raise settings.ConfigError("--branches re-initialise the rewind point, which --sparse_pretrain replaces "
                                       "by each round's own pre-training: use one or the other")

    def output_fraction(self) -> float:
        return self.prune_fraction / 2 if self.prune_output_fraction is None else self.prune_output_fraction

    def rewind_step(self, steps_per_epoch: int) -> int:
        """The step later rounds rewind to: the end of pre-training under open_lth's protocol (where
        the main training starts), else --rewind's."""
        if self.pretrain != "none" and self.pretrain_protocol == "open_lth":
            return steps_lib.Step.parse(self.pretrain_length, steps_per_epoch).iteration
        return 0 if self.rewind in REWIND_TARGETS else steps_lib.Step.parse(self.rewind, steps_per_epoch).iteration

    def branch_names(self) -> List[str]:
        return list(dict.fromkeys(_split(self.branches)))


@dataclasses.dataclass(frozen=True)
class PruneExperimentConfig(config.ExperimentConfig):
    """A training config plus the pruning section; `--epochs` / `--steps` is each round's length."""

    pruning: PruneConfig = dataclasses.field(default_factory=PruneConfig)
    FIXED: ClassVar[Dict[str, type]] = {**config.FIXED_SECTIONS, "pruning": PruneConfig}

    IDENTITY_CONSTANTS: ClassVar[Dict[str, Any]] = {"runner": "prune"}  # never shares a training run's name

    def experiment_name(self) -> str:
        return self.run.experiment or f"prune_{self.model_name}_{self.data.dataset}"
