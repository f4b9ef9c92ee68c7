"""Frozen run configurations, one dataclass per concern, and the run's identity.

Every field is also an absl flag of the same name (see `flagdefs`), so a config
round-trips through a flagfile. A run directory is named from the experiment and
a short hash of the *non-default* hashed fields, so adding a new field with a
default never renames old runs (the idea is open_lth's).
"""
import dataclasses
import hashlib
import json
from typing import Any, Dict, Iterator, List, Optional

# Fields that say where things are, not what is computed: left out of the hash.
_NOT_HASHED = {"hashed": False}


@dataclasses.dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion_mnist_mini"  # the embedded default, so runs work offline
    data_dir: Optional[str] = dataclasses.field(default=None, metadata=_NOT_HASHED)
    download: bool = dataclasses.field(default=True, metadata=_NOT_HASHED)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    model: str = "mlp"
    width: int = 256  # paper 000 §3, Fig. 1(b): 256 units per hidden layer
    depth: int = 2  # paper 000 §3: two hidden layers
    activation: str = "relu"  # paper 000 §3
    kernel_initializer: str = "glorot_uniform"  # paper 000 eq. (1)
    bias_initializer: str = "zeros"  # paper 000 §3: biases initialised at zero
    mask: str = "none"  # paper 000 Fig. 1 stamps the letter "a"; "none": no mark
    mask_layer: int = 1  # Dense kernel index (0 = input->hidden_1); 1 = hidden-to-hidden, as in Fig. 1
    widen_factor: int = 10  # paper 002 App. A: Wide-ResNet widths 16k, 32k, 64k with k = 10
    num_blocks: int = 12  # paper 002 App. A: 12 skippable blocks (LeakyNet: 12 block convs)
    batch_norm: bool = True  # paper 002 App. A: batch norm before each activation, on by default
    leaky_alpha: float = 0.01  # paper 002 §5.1: Leaky ReLU slope
    channel_init: str = "i"  # paper 002 §5.1: LeakyNet channel matrices, 'i', '1' or 'h' per block conv
    dropout: float = 0.0  # paper 002 App. A: disabled by default; App. I: on every conv incl. the first


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 100  # paper 000 trains 1000 epochs (flags/); 100 keeps a default run under a minute
    batch_size: int = 128  # paper 000 §3
    learning_rate: float = 0.1  # paper 000 §3
    optimizer: str = "sgd"  # paper 000 §3: plain SGD
    momentum: float = 0.0  # paper 000: plain SGD; paper 002 App. A: 0.9
    weight_decay: float = 0.0  # paper 002 App. A: 5e-4 (PyTorch-style, added to the gradient)
    lr_boundaries: str = ""  # epochs where the learning rate is multiplied by lr_factor (paper 002: 60,120,160)
    lr_factor: float = 0.2  # paper 002 App. A: divided by 5
    augment: bool = False  # pad 4, random crop, horizontal flip (paper 002's CIFAR-10 setting)
    mixup: float = 0.0  # mixup Beta(alpha, alpha); 0: off (paper 002 App. A mentions it, off by default)
    seed: int = 0
    deterministic: bool = False  # shorthand for nondeterminism=deterministic
    nondeterminism: str = "default"  # paper 002: deterministic | default (framework's own) | simulated
    noise_scale: float = 2.0 ** -24  # simulated: relative size of the per-element gradient noise
    dtype: str = "float32"  # paper 002 Table 3: float32 or mixed_float16

    def op_determinism(self) -> bool:
        """Whether TensorFlow's ops run deterministically (simulated noise is the only source then)."""
        return self.deterministic or self.nondeterminism in ("deterministic", "simulated")

    def mechanism(self) -> str:
        """The symmetry-breaking mechanism recorded in the run directory."""
        if self.nondeterminism == "default" and self.deterministic:
            return "deterministic"
        return self.nondeterminism


@dataclasses.dataclass(frozen=True)
class MeasureConfig:
    """What is recorded during training (paper 000 §4-5); none of it changes the training."""

    rmsd: bool = True  # RMSD from w(0) each epoch, paper 000 eq. (3)
    snapshot_epochs: str = "log:10"  # 'none', 'log:N' or '0,1,2,5,...'; 0 and the last epoch always
    rmsd_every_steps: int = 0  # also record RMSD every K optimizer steps (0: per epoch only)
    rmsd_include_biases: bool = False  # paper 000 eq. (3) runs over the edges (kernels) only
    weight_images: bool = True  # TensorBoard image of one kernel + deviation histograms
    image_layer: int = 1  # Dense kernel index of the image; 1 = hidden-to-hidden (Fig. 1)
    correlations: bool = True  # paper 002 eqs. (5)-(6) for every kernel, each epoch
    perturbation_layers: str = ""  # paper 002 App. G: '' off, 'auto', or comma-separated layer names


@dataclasses.dataclass(frozen=True)
class RunConfig:
    experiment: str = ""  # empty: named "<model>_<dataset>"
    output_dir: str = dataclasses.field(default="runs", metadata=_NOT_HASHED)


# Model-specific fields and the models they apply to; the rest apply to every model.
CONV_MODELS = frozenset({"constnet", "wrn", "leakynet"})
MODEL_FIELDS = {
    "width": {"mlp"}, "depth": {"mlp"}, "activation": {"mlp"}, "kernel_initializer": {"mlp"},
    "bias_initializer": {"mlp"}, "mask": {"mlp"}, "mask_layer": {"mlp"},
    "widen_factor": CONV_MODELS, "num_blocks": CONV_MODELS, "batch_norm": CONV_MODELS,
    "leaky_alpha": {"leakynet"}, "channel_init": {"leakynet"},
}


def applies(field: str, model: str) -> bool:
    return model in MODEL_FIELDS.get(field, {model})


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines one training run."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    measure: MeasureConfig = dataclasses.field(default_factory=MeasureConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)

    def sections(self) -> Iterator[Any]:
        return (getattr(self, f.name) for f in dataclasses.fields(self))

    def nested(self) -> Dict[str, Dict[str, Any]]:
        """{section name: {field: value}}, as written to config.json."""
        return dataclasses.asdict(self)

    def flat(self) -> Dict[str, Any]:
        """All fields of all sections by name (names are unique across sections)."""
        return {k: v for s in self.sections() for k, v in dataclasses.asdict(s).items()}

    def experiment_name(self) -> str:
        return self.run.experiment or f"{self.model.model}_{self.data.dataset}"

    def non_default_hashed(self) -> Dict[str, Any]:
        """The hashed fields whose value differs from the dataclass default."""
        changed = {}
        for section in self.sections():
            for f in dataclasses.fields(section):
                value = getattr(section, f.name)
                if f.metadata.get("hashed", True) and value != f.default:
                    changed[f.name] = value
        return changed

    def run_hash(self) -> str:
        """Eight hex digits of the SHA-256 of the sorted non-default settings."""
        text = json.dumps(self.non_default_hashed(), sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]

    def run_name(self) -> str:
        return f"{self.experiment_name()}-{self.run_hash()}"

    def to_flag_lines(self) -> List[str]:
        """`--name=value` lines that `--flagfile` reads back into this config."""
        lines = []
        for name, value in self.flat().items():
            if value is None or not applies(name, self.model.model):
                continue
            if isinstance(value, bool):
                lines.append(f"--{name}" if value else f"--no{name}")
            else:
                lines.append(f"--{name}={value}")
        return lines

    @classmethod
    def from_flat(cls, values: Dict[str, Any]) -> "ExperimentConfig":
        """Builds a config from a name -> value mapping holding every field."""
        sections = {}
        for f in dataclasses.fields(cls):
            section_cls = f.default_factory
            names = [g.name for g in dataclasses.fields(section_cls)]
            sections[f.name] = section_cls(**{n: values[n] for n in names})
        return cls(**sections)

    def replace(self, **changes: Any) -> "ExperimentConfig":
        """A copy with some fields (by flat name) changed."""
        flat = self.flat()
        unknown = set(changes) - set(flat)
        if unknown:
            raise KeyError(f"unknown config fields: {sorted(unknown)}")
        flat.update(changes)
        return ExperimentConfig.from_flat(flat)
