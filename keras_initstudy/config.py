"""Frozen run configurations, one dataclass per concern, and the run's identity.

Every field is made by settings.setting (default, help, check); a config checks
itself when built, `replace` included, so no invalid run can be described. The
model's settings are its own config class, registered with its builder
(models/registry.py). Binaries generate their flags from these fields (flagdefs).

A run directory is named `<experiment>-<hash>`; the hash covers what the run
computes (HASH_VERSION 2):
  - only the fields of the chosen model (a ConstNet has no width);
  - canonical values: `--seed` is resolved into init and data seeds, so
    `--seed=3` and `--init_seed=3 --data_seed=3` are one run; `--epochs` does not
    count when `--steps` ends the run; `--deterministic` is a flag shorthand for
    `--nondeterminism=deterministic`;
  - only values that differ from the defaults, so a new field with a default
    never renames old runs (open_lth's idea);
  - not where things go (output_dir, data_dir, experiment: that is in the name)
    nor the instruments (MeasureConfig): they never change the training (tested:
    weights are bit-identical with and without them). A run's instruments are
    fixed by the command that started it (see lifecycle.already_done).
"""
import dataclasses
import hashlib
import json
from typing import Any, ClassVar, Dict, Iterator, List, Optional, Tuple

from keras_initstudy import datasets, models, settings
from keras_initstudy import steps as steps_lib
from keras_initstudy.settings import OMIT, ConfigError, at_least, between, positive, setting

ADAM_EPSILON = 1e-7  # Keras's default
NORMALIZATIONS = ("none", "per_channel", "imagenet_constants", "cifar10_constants")  # datasets/base.py's
HASH_VERSION = 2  # 1: every non-default field of every section, model fields of every model

OPTIMIZER_NAMES = ("adagrad", "adam", "rmsprop", "sgd")
NONDETERMINISM = ("deterministic", "default", "simulated")
STEP_LIST = settings.parses(steps_lib.check_list, "must be comma-separated steps (500it, 2ep, 2ep100it; "
                                              "a bare number is epochs)")
STEP = settings.parses(steps_lib.check_text, "must be a step: 500it, 2ep, 2ep100it (a bare number is epochs)")


def _check_schedule(text: str) -> None:
    text = text.strip()
    if text == "none":
        return
    if text.startswith("log:"):
        if int(text[4:]) < 1:
            raise ValueError("log:N needs N >= 1")
        return
    steps_lib.check_list(text)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    dataset: str = setting("fashion_mnist_mini", "Dataset name (fashion_mnist_mini is embedded and needs "
                           "no files).", choices=datasets.names())
    data_dir: Optional[str] = setting(None, "Folder with the dataset's files (idx .gz, cifar-10-batches-py, "
                                      "HASYv2.tar.bz2) or TFDS's data_dir.", hashed=False)
    download: bool = setting(False, "Download through TensorFlow Datasets what --data_dir lacks (without "
                             "--data_dir a download is always tried).", hashed=False)
    validation_split: float = setting(0.0, "Training examples held out for validation, chosen by the data seed "
                                      "and evaluated every epoch (paper 001 §3.1): a fraction up to 0.5, or a count "
                                      "of 1 or more (paper 001's code: 7000); 0: none.", settings.Check(
                                          lambda v: 0.0 <= v <= 0.5 or (v >= 1 and float(v).is_integer()),
                                          "must be a fraction in [0, 0.5] or a whole count >= 1"),
                                      identity=settings.unless_default("validation_split"))
    pad_to: int = setting(0, "Zero-pad images to pad_to x pad_to (e.g. 32: 28x28 Fashion-MNIST as the 32x32 "
                          "inputs of paper 001's ResNet-50); 0: as loaded.", at_least(0),
                          identity=settings.unless_default("pad_to"))
    normalize: str = setting("none", "per_channel: subtract the training split's per-channel mean and divide by "
                             "its standard deviation (paper 002's CIFAR-10 code); imagenet_constants: ImageNet's "
                             "mean/std (open_lth's CIFAR-10, paper 004); cifar10_constants: (0.4914, 0.4822, "
                             "0.4465) / (0.2023, 0.1994, 0.2010) (kuangliu/pytorch-cifar, paper 001's ResNet-50); "
                             "with a constant scheme --augment pads with black, as torchvision; none: pixels in "
                             "[0, 1].", choices=NORMALIZATIONS, identity=settings.unless_default("normalize"))

    __post_init__ = settings.validate_fields


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    epochs: int = setting(100, "Epochs to train (paper 000: 1000; 100 keeps the default run under a minute).",
                          at_least(1), identity=lambda t: OMIT if t.steps else t.epochs)  # --steps ends the run
    steps: int = setting(0, "Train exactly this many optimizer updates instead of --epochs (0: use --epochs).",
                         at_least(0))
    batch_size: int = setting(128, "Mini-batch size (paper 000 §3: 128).", at_least(1))
    learning_rate: float = setting(0.1, "Learning rate (paper 000 §3: 0.1).", positive())
    optimizer: str = setting("sgd", "Optimizer (paper 000 §3: plain SGD).", choices=OPTIMIZER_NAMES)
    momentum: float = setting(0.0, "SGD momentum (paper 002 App. A: 0.9).", between(0.0, 0.999))
    momentum_form: str = setting("pytorch", "How SGD keeps momentum: pytorch (v = mu v + g, w -= lr v; the "
                                 "papers' PyTorch code) or keras (v = mu v - lr g, w += v); they differ "
                                 "after a learning-rate drop.", choices=("pytorch", "keras"),
                                 identity=lambda t: t.momentum_form if t.momentum else OMIT)  # no momentum, no form
    weight_decay: float = setting(0.0, "L2 weight decay added to every gradient, as PyTorch's SGD does "
                                  "(paper 002 App. A: 5e-4).", at_least(0.0))
    adam_epsilon: float = setting(ADAM_EPSILON, "Adam's epsilon (Keras's default 1e-7; PyTorch's, in paper 001's code: "
                                  "1e-8).", positive(),  # earlier Adam runs keep their names
                                  identity=lambda t: OMIT if t.optimizer != "adam" or t.adam_epsilon == ADAM_EPSILON
                                  else t.adam_epsilon)
    loss_reduction: str = setting("mean", "Cross-entropy over a batch: mean (Keras's and PyTorch's default) or "
                                  "sum (paper 001's released code).", choices=("mean", "sum"))
    reshuffle: bool = setting(True, "Draw a new example order every epoch (off: one order, drawn once from "
                              "--data_seed and kept every epoch, as paper 001's released code).")
    lr_boundaries: str = setting("", "Steps at which the learning rate is multiplied by --lr_factor, e.g. "
                                 "60,120,160 (epochs; paper 002) or 500it,2ep.", STEP_LIST)
    lr_factor: float = setting(0.2, "Learning-rate factor at each boundary (paper 002 App. A: 1/5).", positive())
    augment: bool = setting(False, "Pad 4, random crop, horizontal flip (paper 002's CIFAR-10 setting).")
    augment_padding: str = setting("zeros", "How --augment pads before cropping: zeros (torchvision's RandomCrop "
                                   "padding=4; open_lth) or reflect (paper 002's code).",
                                   choices=("zeros", "reflect"))
    mixup: float = setting(0.0, "Mixup Beta(alpha, alpha); 0: off (paper 002 App. A, off by default).",
                           at_least(0.0))
    # --seed counts as the init and data seeds it resolves into: --seed=3 is --init_seed=3 --data_seed=3
    seed: int = setting(0, "Shorthand for --init_seed and --data_seed.", at_least(0), identity=lambda t: OMIT)
    init_seed: Optional[int] = setting(None, "Seed of the initial weights (default: --seed).",
                                       settings.optional(at_least(0)), identity=lambda t: t.seeds.init)
    data_seed: Optional[int] = setting(None, "Seed of the order of examples, augmentation and dropout "
                                       "(default: --seed).", settings.optional(at_least(0)),
                                       identity=lambda t: t.seeds.data)
    nondeterminism: str = setting("default", "deterministic (op determinism on), default (the framework's own "
                                  "arithmetic) or simulated (rounding-sized gradient noise; paper 002).",
                                  choices=NONDETERMINISM)
    noise_scale: float = setting(2.0 ** -24, "simulated: relative standard deviation of the gradient noise "
                                 "(2^-24: float32 rounding).", at_least(0.0),
                                 identity=lambda t: t.noise_scale if t.nondeterminism == "simulated" else OMIT)
    dtype: str = setting("float32", "Compute precision (paper 002 Table 3).", choices=("float32", "mixed_float16"))

    def __post_init__(self):
        settings.validate_fields(self)
        if self.optimizer != "sgd" and (self.momentum or self.weight_decay):
            raise ConfigError("momentum and weight_decay need optimizer=sgd")
        if self.adam_epsilon != ADAM_EPSILON and self.optimizer != "adam":
            raise ConfigError("adam_epsilon needs optimizer=adam")
        if self.nondeterminism == "simulated" and self.optimizer != "sgd":
            raise ConfigError("nondeterminism=simulated needs optimizer=sgd")

    @property
    def seeds(self) -> models.Seeds:
        return models.Seeds(init=self.seed if self.init_seed is None else self.init_seed,
                            data=self.seed if self.data_seed is None else self.data_seed)

    def op_determinism(self) -> bool:
        """Whether TensorFlow's ops run deterministically (simulated noise is the only source then)."""
        return self.nondeterminism in ("deterministic", "simulated")

    def mechanism(self) -> str:
        """The symmetry-breaking mechanism recorded in the run directory."""
        return self.nondeterminism

    def end(self, steps_per_epoch: int) -> steps_lib.Step:
        """Where training ends: --steps updates, else --epochs epochs."""
        if self.steps:
            return steps_lib.Step(self.steps, steps_per_epoch)
        return steps_lib.Step.from_epochs(self.epochs, steps_per_epoch)


@dataclasses.dataclass(frozen=True)
class MeasureConfig:
    """What is recorded during training (paper 000 §4-5); none of it changes the training."""

    rmsd: bool = setting(True, "Log RMSD from the initial weights (paper 000 eq. 3) each epoch.", measure=True)
    snapshots: str = setting("log:10", "Steps whose weights are saved to snapshots/: 'none', 'log:N' (N "
                             "log-spaced epochs) or a list '0,1,2,5,10,500it'; step 0 (the initial weights) "
                             "and the last step are always kept.",
                             settings.parses(_check_schedule, "must be none, log:N or a list of steps"),
                             measure=True)
    save_points: str = setting("", "Steps whose complete state (weights and optimizer) is kept in "
                               "savepoints/ for rewinding, e.g. 0it,500it.", STEP_LIST, measure=True)
    rmsd_every_steps: int = setting(0, "Also record RMSD (paper 000 eq. 3) every K optimizer steps into "
                                    "rmsd_steps.csv; 0: once per epoch only.", at_least(0), measure=True)
    rmsd_include_biases: bool = setting(False, "Count biases in the RMSD (paper 000 counts edge weights "
                                        "only).", measure=True)
    weight_images: bool = setting(True, "TensorBoard image of one kernel each epoch and histograms of "
                                  "w(t) - w(0).", measure=True)
    image_layer: int = setting(1, "Kernel index shown by --weight_images (1 = hidden-to-hidden).", at_least(0),
                               measure=True)
    correlations: bool = setting(True, "Log forward/backward kernel correlations (paper 002 eqs. 5-6) each "
                                 "epoch.", measure=True)
    correlation: str = setting("pearson", "Similarity of two kernel slices in the correlations: pearson (the "
                               "authors' code, centred) or cosine (the paper's eqs. 5-6, uncentred); "
                               "analysis/correlations.py.", choices=("pearson", "cosine"), measure=True)
    perturbation_layers: str = setting("", "Log the symmetry-breaking perturbation norm of these layers' "
                                       "activations and gradients (paper 002 App. G): '' off, 'auto' (the "
                                       "model's feature layers) or comma-separated layer names.", measure=True)
    gradient_steps: int = setting(0, "Kernel-gradient quantiles per layer (paper 001 §4) at each of the first "
                                  "N steps, then every epoch, into gradients.csv and TensorBoard; 0: off.",
                                  at_least(0), measure=True)
    telemetry: bool = setting(False, "Early-phase telemetry (paper 004 Fig. 3): every step of --telemetry_window, "
                              "then every epoch, into telemetry.csv and TensorBoard (callbacks/telemetry.py).",
                              measure=True)
    telemetry_gradient: str = setting("inference", "Mode of --telemetry's gradient norm on its probe batch: "
                                      "inference (running batch-norm statistics, no dropout) or training (batch "
                                      "statistics and dropout, the gradient training follows, paper 004 Fig. 3; "
                                      "running averages left as they were).", choices=("inference", "training"),
                                      measure=True)
    telemetry_window: str = setting("4000it", "Steps logged one by one by --telemetry (paper 004: 4000it).", STEP,
                                    measure=True)
    telemetry_eval_every: str = setting("100it", "Test loss and accuracy in the telemetry window every so many "
                                        "steps (full test split).", STEP, measure=True)
    telemetry_state_every: str = setting("10it", "Telemetry states kept in the window for the distances to the "
                                         "final weights (each costs a copy of the kernels on disk until the end).",
                                         STEP, measure=True)

    def __post_init__(self):
        settings.validate_fields(self)
        if self.rmsd_every_steps and not self.rmsd:
            raise ConfigError("rmsd_every_steps needs rmsd")
        for name in ("telemetry_eval_every", "telemetry_state_every"):
            if steps_lib.Step.parse(getattr(self, name), 1).iteration < 1:  # zero in any epoch length
                raise ConfigError(f"{name}={getattr(self, name)}: must be at least one step")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    experiment: str = setting("", "Run-directory prefix (default: <model>_<dataset>).", settings.Check(
        lambda v: "/" not in v and "\\" not in v and not v.startswith("."), "must be a plain folder-name prefix"),
        hashed=False)
    output_dir: str = setting("runs", "Parent folder of run directories.",
                              settings.Check(bool, "must not be empty"), hashed=False)
    checkpoint_every: str = setting("1ep", "How often the resumable state is saved (a step: 1ep, 500it).",
                                    STEP, hashed=False)
    wait_for_lock: bool = setting(False, "When another process is writing the run directory, wait for it to "
                                  "finish instead of exiting with an error.", hashed=False)
    steps_per_execution: str = setting(
        "auto", "Optimizer steps per call into TensorFlow: auto (as many as the instruments allow: every step "
        "an instrument reads, and every epoch end, ends a call; loop.py) or a number (1: the host sees every "
        "step). Results do not depend on it.", settings.Check(
            lambda v: v == "auto" or (v.isdigit() and int(v) >= 1), "must be auto or a positive integer"),
        hashed=False)

    __post_init__ = settings.validate_fields


FIXED_SECTIONS = {"data": DataConfig, "training": TrainingConfig, "measure": MeasureConfig, "run": RunConfig}


def _default_model() -> models.ModelConfig:
    return models.config_class("mlp")()


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Everything that defines one training run. Field names are unique across sections
    (a model config may not reuse a name of another section), so a config is also a
    flat name -> value mapping: `flat()`, `from_flat()`, `replace(width=...)`."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: models.ModelConfig = dataclasses.field(default_factory=_default_model)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    measure: MeasureConfig = dataclasses.field(default_factory=MeasureConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)

    def __post_init__(self):
        if not isinstance(self.model, models.ModelConfig) or not type(self.model).name:
            raise ConfigError(f"model must be a registered model config, got {self.model!r}")

    hash_version = HASH_VERSION
    IDENTITY_CONSTANTS: ClassVar[Dict[str, Any]] = {}  # a runner's own mark (pruning: {"runner": "prune"})
    # Sections other than the model's, by field name; runners' configs add theirs (pruning/config.py).
    FIXED: ClassVar[Dict[str, type]] = FIXED_SECTIONS

    @classmethod
    def section_names(cls) -> Tuple[str, ...]:
        return ("data", "model", "training", "measure", "run") + tuple(n for n in cls.FIXED if n not in
                                                                     ("data", "training", "measure", "run"))

    @classmethod
    def fixed_field_names(cls) -> set:
        return {f.name for section in cls.FIXED.values() for f in dataclasses.fields(section)}

    @classmethod
    def field_names(cls) -> List[str]:
        """Every settable name: fixed sections, `model`, and every registered model's fields."""
        names = [f.name for section in cls.FIXED.values() for f in dataclasses.fields(section)]
        return names + ["model"] + sorted({f.name for _, f in settings.fields_of(models.config_classes())})

    @property
    def model_name(self) -> str:
        return type(self.model).name

    def sections(self) -> Iterator[Any]:
        return (getattr(self, name) for name in self.section_names())

    def nested(self) -> Dict[str, Dict[str, Any]]:
        """{section name: {field: value}}, as written to config.json (the model's name under model)."""
        out = {name: dataclasses.asdict(getattr(self, name)) for name in self.section_names()}
        out["model"] = {"model": self.model_name, **out["model"]}
        return out

    def flat(self) -> Dict[str, Any]:
        """Every field by name, with `model` holding the model's name."""
        return {k: v for section in self.nested().values() for k, v in section.items()}

    def experiment_name(self) -> str:
        return self.run.experiment or f"{self.model_name}_{self.data.dataset}"

    # -- identity ------------------------------------------------------------------------------
    def identity(self) -> Dict[str, Any]:
        """Canonical values of everything that decides what the run computes: the model's name
        (and revision, when it has one), the runner's constants, and every section's hashed
        fields by their own rules (settings.identity)."""
        values = {"model": self.model_name, **self.IDENTITY_CONSTANTS}
        if type(self.model).revision:  # only when set, so other models keep their hashes
            values["model_revision"] = type(self.model).revision
        for section in self.sections():
            values.update(settings.identity(section))
        return values

    def non_default_identity(self) -> Dict[str, Any]:
        """identity() entries that differ from a default config of the same model; the model's
        revision and the runner's constants always count."""
        default = type(self)(model=type(self.model)()).identity()
        default["model"] = type(self)().model_name
        default.pop("model_revision", None)
        for key in self.IDENTITY_CONSTANTS:
            default.pop(key)
        return {k: v for k, v in self.identity().items() if k not in default or default[k] != v}

    def run_hash(self) -> str:
        """Eight hex digits of the SHA-256 of the sorted non-default identity."""
        text = json.dumps({"hash_version": HASH_VERSION, **self.non_default_identity()}, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]

    def run_name(self) -> str:
        return f"{self.experiment_name()}-{self.run_hash()}"

    def instruments(self) -> Dict[str, Any]:
        return dataclasses.asdict(self.measure)

    # -- flat views ---------------------------------------------------------------------------
    def to_flag_lines(self) -> List[str]:
        """`--name=value` lines that `--flagfile` reads back into this config."""
        lines = []
        for name, value in self.flat().items():
            if value is None:
                continue
            if isinstance(value, bool):
                lines.append(f"--{name}" if value else f"--no{name}")
            else:
                lines.append(f"--{name}={value}")
        return lines

    @classmethod
    def from_flat(cls, values: Dict[str, Any], strict: bool = False) -> "ExperimentConfig":
        """A config from name -> value; missing names take their defaults.

        `model` picks the model config class. Names of other models' fields are
        ignored (a flag set holds every model's flags), unless `strict`; names of
        no field at all are an error.
        """
        model_cls = models.config_class(values.get("model", "mlp"))
        known = set(cls.field_names())
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown config fields: {', '.join(sorted(unknown))}")
        model_fields = {f.name for f in dataclasses.fields(model_cls)}
        if strict:
            foreign = set(values) - model_fields - cls.fixed_field_names() - {"model"}
            if foreign:
                raise ConfigError(f"{', '.join(sorted(foreign))} does not apply to model {model_cls.name}")
        sections = {name: section_cls(**{f.name: values[f.name] for f in dataclasses.fields(section_cls)
                                         if f.name in values})
                    for name, section_cls in cls.FIXED.items()}
        model = model_cls(**{k: v for k, v in values.items() if k in model_fields})
        return cls(model=model, **sections)

    def replace(self, **changes: Any) -> "ExperimentConfig":
        """A copy with some fields (by flat name) changed, checked like a new config.

        Changing `model` starts the new model's settings from its defaults (plus any
        of its fields given here); naming a field the model does not have is an error.
        """
        flat = self.flat()
        if "model" in changes and changes["model"] != self.model_name:
            for f in dataclasses.fields(self.model):
                flat.pop(f.name)
        flat.update(changes)
        return type(self).from_flat(flat, strict=True)


def model_fields_of(name: str) -> set:
    return {f.name for f in dataclasses.fields(models.config_class(name))}
