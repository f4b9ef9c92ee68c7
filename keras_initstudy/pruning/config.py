"""Settings of iterative magnitude pruning (IMP), and the config of a pruning run.

A pruning run is a training config (every train flag: model, data, optimizer, epochs
or steps per round) plus these settings. Its identity (run hash) counts them too, so
a pruning run never shares a directory with a training run.
"""
import dataclasses
from typing import Any, ClassVar, Dict, Optional

from keras_initstudy import config, settings
from keras_initstudy import steps as steps_lib
from keras_initstudy.settings import at_least, between, setting


def _check_rewind(text: str) -> None:
    if text != "init":
        steps_lib.check_text(text)


@dataclasses.dataclass(frozen=True)
class PruneConfig:
    rounds: int = setting(20, "Trainings in all: round 0 trains the dense network, each later round prunes, "
                          "rewinds and trains again (paper 003: 20 rounds of 5 epochs).", at_least(1))
    prune_fraction: float = setting(0.2, "Fraction of the remaining weights pruned each round (paper 003: 0.2).",
                                    between(0.0, 0.99))
    prune_output_fraction: Optional[float] = setting(
        None, "Fraction for the output layer (default: half of --prune_fraction, as Frankle & Carbin 2019; "
        "global: 0 leaves the output layer unpruned).", settings.optional(between(0.0, 0.99)))
    strategy: str = setting("layerwise", "layerwise: each layer loses the fraction of its own weights; global: "
                            "one magnitude threshold over all prunable weights (open_lth's sparse_global).",
                            choices=("layerwise", "global"))
    rewind: str = setting("init", "Where survivors are reset to: init (their initial values) or a step of "
                          "round 0 (0, 500it, 2ep), whose weights and optimizer state are restored.",
                          settings.parses(_check_rewind, "must be init or a step (500it, 2ep)"))
    prune_biases: bool = setting(False, "Prune biases too (the released code of paper 003 does).")
    prune_rounding: str = setting("ceil", "Weights pruned = ceil (open_lth) or floor (paper 003's code) of "
                                  "fraction x remaining.", choices=("ceil", "floor"))
    reset_optimizer: bool = setting(True, "Restore the optimizer state of the rewind step each round (off: keep "
                                    "the state and step count the previous round ended with, as paper 003's "
                                    "code does).")
    reinit: str = setting("none", "Surviving weights after rewinding: none (rewound values) or random (a "
                          "fresh draw of the initializer, keeping the mask; paper 004 adds more).",
                          choices=("none", "random"))

    def __post_init__(self):
        settings.validate_fields(self)

    def output_fraction(self) -> float:
        return self.prune_fraction / 2 if self.prune_output_fraction is None else self.prune_output_fraction

    def rewind_step(self, steps_per_epoch: int) -> int:
        return 0 if self.rewind == "init" else steps_lib.Step.parse(self.rewind, steps_per_epoch).iteration

    def identity(self) -> Dict[str, Any]:
        values = dataclasses.asdict(self)
        values["prune_output_fraction"] = self.output_fraction()
        values["rewind"] = "0it" if self.rewind in ("init", "0", "0it", "0ep") else self.rewind
        return values


@dataclasses.dataclass(frozen=True)
class PruneExperimentConfig(config.ExperimentConfig):
    """A training config plus the pruning section; `--epochs` / `--steps` is each round's length."""

    pruning: PruneConfig = dataclasses.field(default_factory=PruneConfig)
    FIXED: ClassVar[Dict[str, type]] = {**config.FIXED_SECTIONS, "pruning": PruneConfig}

    def identity(self) -> Dict[str, Any]:
        return {**super().identity(), "runner": "prune", **self.pruning.identity()}

    def non_default_identity(self) -> Dict[str, Any]:
        # Pruning runs always say so: "runner" is in the identity even at its defaults.
        changed = super().non_default_identity()
        return {"runner": "prune", **changed}

    def experiment_name(self) -> str:
        return self.run.experiment or f"prune_{self.model_name}_{self.data.dataset}"
