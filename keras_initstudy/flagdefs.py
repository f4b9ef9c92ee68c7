"""absl flags for the training binaries, one per ExperimentConfig field.

Library modules never define flags at import; binaries call `define_train_flags()`.
Defaults come from the config dataclasses, so they are stated once.
"""
import os
import sys

import keras
from absl import flags

from keras_initstudy import config as config_lib
from keras_initstudy import datasets, models, training

_D = config_lib.ExperimentConfig()


def _is_initializer(name: str) -> bool:
    try:
        return keras.initializers.get(name) is not None
    except (ValueError, TypeError):
        return False


def _is_activation(name: str) -> bool:
    try:
        keras.activations.get(name)
        return True
    except (ValueError, TypeError):
        return False


def _is_schedule(spec: str) -> bool:
    from keras_initstudy.callbacks.snapshots import parse_schedule
    try:
        parse_schedule(spec, 10)
        return True
    except ValueError:
        return False


def _is_epoch_list(spec: str) -> bool:
    try:
        epochs = [int(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        return False
    return all(e >= 1 for e in epochs) and epochs == sorted(set(epochs))


def int_list(lower: int):
    """A validator for DEFINE_list flags: a non-empty list of integers >= lower."""
    return lambda values: bool(values) and all(v.isdigit() and int(v) >= lower for v in values)


def misplaced_model_flags(fv: flags.FlagValues = flags.FLAGS) -> list:
    """Model-specific flags given on the command line (or a flagfile) that the chosen
    --model does not use: an error, not something to ignore silently."""
    model = fv["model"].value
    return [f"--{name}" for name in config_lib.MODEL_FIELDS
            if fv[name].present and not config_lib.applies(name, model)]


def define_train_flags(fv: flags.FlagValues = flags.FLAGS) -> None:
    """Defines every ExperimentConfig field as a flag, with validators."""
    flags.DEFINE_enum("dataset", _D.data.dataset, list(datasets.names()),
                      "Dataset name (fashion_mnist_mini is embedded and needs no files).", flag_values=fv)
    flags.DEFINE_string("data_dir", None, "Folder with the dataset's files (idx .gz, "
                        "cifar-10-batches-py, HASYv2.tar.bz2) or TFDS's data_dir.", flag_values=fv)
    flags.DEFINE_bool("download", _D.data.download,
                      "Let TensorFlow Datasets download data that is not found locally.", flag_values=fv)
    flags.DEFINE_enum("model", _D.model.model, list(models.names()),
                      "mlp (paper 000), constnet, wrn (ConstNet's shape, He init) or leakynet (paper 002).",
                      flag_values=fv)
    flags.DEFINE_integer("width", _D.model.width, "Units per hidden layer (paper 000: 256).",
                         lower_bound=1, flag_values=fv)
    flags.DEFINE_integer("depth", _D.model.depth, "Number of hidden layers (paper 000: 2).",
                         lower_bound=0, flag_values=fv)
    flags.DEFINE_string("activation", _D.model.activation, "Hidden-layer activation (Keras name).",
                        flag_values=fv)
    flags.DEFINE_string("kernel_initializer", _D.model.kernel_initializer,
                        "Keras initializer name for the weights (paper 000 eq. 1: glorot_uniform).",
                        flag_values=fv)
    flags.DEFINE_string("bias_initializer", _D.model.bias_initializer,
                        "Keras initializer name for the biases (paper 000: zeros).", flag_values=fv)
    flags.DEFINE_string("mask", _D.model.mask,
                        "Letter(s) stamped on one initial weight matrix (paper 000 Fig. 1: a); "
                        "weights outside the mark start at exactly zero. none: no mark.", flag_values=fv)
    flags.DEFINE_integer("mask_layer", _D.model.mask_layer,
                         "Dense kernel carrying the mask: 0 = input->hidden_1, 1 = hidden-to-hidden "
                         "(paper 000 Fig. 1), depth = last hidden->output.", lower_bound=0, flag_values=fv)
    flags.DEFINE_integer("widen_factor", _D.model.widen_factor,
                         "constnet/wrn/leakynet: widths 16k, 32k, 64k (paper 002: k = 10).", lower_bound=1,
                         flag_values=fv)
    flags.DEFINE_integer("num_blocks", _D.model.num_blocks,
                         "constnet/wrn: skippable blocks; leakynet: block convs (even). Paper 002: 12.",
                         lower_bound=0, flag_values=fv)
    flags.DEFINE_bool("batch_norm", _D.model.batch_norm,
                      "constnet/wrn/leakynet: batch norm (gamma 1, beta 0 at init).", flag_values=fv)
    flags.DEFINE_float("leaky_alpha", _D.model.leaky_alpha, "leakynet: Leaky ReLU slope (paper 002: 0.01).",
                       flag_values=fv)
    flags.DEFINE_string("channel_init", _D.model.channel_init,
                        "leakynet: channel matrix per block conv, one of i (identity), 1 (averaging), "
                        "h (He); one letter for all or one letter per block conv, e.g. iiiiii111111.",
                        flag_values=fv)
    flags.DEFINE_float("dropout", _D.model.dropout,
                       "Dropout rate after every conv (the first included) or hidden Dense layer.",
                       lower_bound=0.0, upper_bound=0.99, flag_values=fv)
    flags.DEFINE_integer("epochs", _D.training.epochs, "Epochs to train (paper 000: 1000).",
                         lower_bound=1, flag_values=fv)
    flags.DEFINE_integer("batch_size", _D.training.batch_size, "Mini-batch size (paper 000: 128).",
                         lower_bound=1, flag_values=fv)
    flags.DEFINE_float("learning_rate", _D.training.learning_rate, "Learning rate (paper 000: 0.1).",
                       flag_values=fv)
    flags.DEFINE_enum("optimizer", _D.training.optimizer, sorted(training.OPTIMIZERS),
                      "Optimizer (paper 000: plain SGD).", flag_values=fv)
    flags.DEFINE_float("momentum", _D.training.momentum, "SGD momentum (paper 002: 0.9).",
                       lower_bound=0.0, upper_bound=0.999, flag_values=fv)
    flags.DEFINE_float("weight_decay", _D.training.weight_decay,
                       "L2 weight decay added to every gradient, as PyTorch's SGD does (paper 002: 5e-4).",
                       lower_bound=0.0, flag_values=fv)
    flags.DEFINE_string("lr_boundaries", _D.training.lr_boundaries,
                        "Comma-separated epochs at which the learning rate is multiplied by --lr_factor "
                        "(paper 002: 60,120,160).", flag_values=fv)
    flags.DEFINE_float("lr_factor", _D.training.lr_factor, "Step-schedule factor (paper 002: 0.2).",
                       lower_bound=0.0, flag_values=fv)
    flags.DEFINE_bool("augment", _D.training.augment,
                      "Pad 4, random crop, random horizontal flip (CIFAR-10 standard).", flag_values=fv)
    flags.DEFINE_float("mixup", _D.training.mixup, "Mixup alpha (0: off).", lower_bound=0.0, flag_values=fv)
    flags.DEFINE_enum("nondeterminism", _D.training.nondeterminism, ["deterministic", "default", "simulated"],
                      "deterministic: enable_op_determinism; default: the framework's own (non-deterministic "
                      "on GPUs); simulated: deterministic ops plus per-element gradient noise of rounding "
                      "size (see --noise_scale).", flag_values=fv)
    flags.DEFINE_float("noise_scale", _D.training.noise_scale,
                       "simulated: relative standard deviation of the gradient noise (2^-24: float32 rounding).",
                       lower_bound=0.0, flag_values=fv)
    flags.DEFINE_enum("dtype", _D.training.dtype, ["float32", "mixed_float16"],
                      "Compute precision (paper 002 Table 3).", flag_values=fv)
    flags.DEFINE_integer("seed", _D.training.seed, "Seeds Python, NumPy and TensorFlow.",
                         lower_bound=0, flag_values=fv)
    flags.DEFINE_bool("deterministic", _D.training.deterministic,
                      "Call tf.config.experimental.enable_op_determinism().", flag_values=fv)
    flags.DEFINE_bool("rmsd", _D.measure.rmsd,
                      "Log RMSD from the initial weights (paper 000 eq. 3) each epoch.", flag_values=fv)
    flags.DEFINE_string("snapshot_epochs", _D.measure.snapshot_epochs,
                        "Epochs whose weights are saved to snapshots/: 'none', 'log:N' (N log-spaced) "
                        "or a list '0,1,2,5,10'; epoch 0 (the initial weights) and the last are always kept.",
                        flag_values=fv)
    flags.DEFINE_integer("rmsd_every_steps", _D.measure.rmsd_every_steps,
                         "Also record RMSD (paper 000 eq. 3) every K optimizer steps into rmsd_steps.csv; "
                         "0: once per epoch only.", lower_bound=0, flag_values=fv)
    flags.DEFINE_bool("rmsd_include_biases", _D.measure.rmsd_include_biases,
                      "Count biases in the RMSD (paper 000 counts edge weights only).", flag_values=fv)
    flags.DEFINE_bool("weight_images", _D.measure.weight_images,
                      "TensorBoard image of one kernel each epoch and histograms of w(t) - w(0).",
                      flag_values=fv)
    flags.DEFINE_integer("image_layer", _D.measure.image_layer,
                         "Kernel index shown by --weight_images (1 = hidden-to-hidden).", lower_bound=0,
                         flag_values=fv)
    flags.DEFINE_bool("correlations", _D.measure.correlations,
                      "Log forward/backward kernel correlations (paper 002 eqs. 5-6) each epoch.", flag_values=fv)
    flags.DEFINE_string("perturbation_layers", _D.measure.perturbation_layers,
                        "Log the symmetry-breaking perturbation norm of these layers' activations and "
                        "gradients (paper 002 App. G): '' off, 'auto' (stem, widening convs, block outputs) "
                        "or comma-separated layer names.", flag_values=fv)
    flags.DEFINE_string("experiment", _D.run.experiment,
                        "Run-directory prefix (default: <model>_<dataset>).", flag_values=fv)
    flags.DEFINE_string("output_dir", _D.run.output_dir, "Parent folder of run directories.",
                        flag_values=fv)

    flags.register_validator("learning_rate", lambda v: v > 0, "must be > 0", flag_values=fv)
    flags.register_validator("kernel_initializer", _is_initializer,
                             "must name a Keras initializer (e.g. glorot_uniform, he_normal)",
                             flag_values=fv)
    flags.register_validator("bias_initializer", _is_initializer,
                             "must name a Keras initializer (e.g. zeros)", flag_values=fv)
    flags.register_validator("activation", _is_activation,
                             "must name a Keras activation (e.g. relu, tanh)", flag_values=fv)
    flags.register_validator("mask", lambda v: v == "none" or (bool(v.strip()) and len(v) <= 8),
                             "must be none or 1-8 characters of text", flag_values=fv)
    flags.register_multi_flags_validator(
        ["mask_layer", "depth"], lambda d: d["mask_layer"] <= d["depth"],
        "--mask_layer must be at most --depth (kernels are numbered 0..depth)", flag_values=fv)
    flags.register_validator("snapshot_epochs", _is_schedule,
                             "must be none, log:N or a comma-separated list of epochs", flag_values=fv)
    flags.register_multi_flags_validator(
        ["rmsd", "rmsd_every_steps"], lambda d: d["rmsd"] or not d["rmsd_every_steps"],
        "--rmsd_every_steps needs --rmsd", flag_values=fv)
    flags.register_multi_flags_validator(
        ["image_layer", "depth", "weight_images"],
        lambda d: not d["weight_images"] or d["image_layer"] <= d["depth"],
        "--image_layer must be at most --depth", flag_values=fv)
    flags.register_validator("channel_init", lambda v: bool(v) and set(v) <= set("i1h"),
                             "must be letters from i, 1, h", flag_values=fv)
    flags.register_validator("lr_boundaries", _is_epoch_list,
                             "must be comma-separated increasing epochs >= 1", flag_values=fv)
    flags.register_multi_flags_validator(
        ["model", "num_blocks", "channel_init"],
        lambda d: d["model"] != "leakynet" or (d["num_blocks"] % 2 == 0 and len(d["channel_init"]) in
                                               (1, d["num_blocks"])),
        "leakynet needs an even --num_blocks and --channel_init of 1 or num_blocks letters", flag_values=fv)
    flags.register_multi_flags_validator(
        ["optimizer", "momentum", "weight_decay"],
        lambda d: d["optimizer"] == "sgd" or (d["momentum"] == 0 and d["weight_decay"] == 0),
        "--momentum and --weight_decay need --optimizer=sgd", flag_values=fv)
    flags.register_multi_flags_validator(
        ["nondeterminism", "optimizer"], lambda d: d["nondeterminism"] != "simulated" or d["optimizer"] == "sgd",
        "--nondeterminism=simulated needs --optimizer=sgd", flag_values=fv)
    flags.register_validator("experiment", lambda v: os.sep not in v and not v.startswith("."),
                             "must be a plain folder-name prefix", flag_values=fv)
    flags.register_validator("output_dir", bool, "must not be empty", flag_values=fv)


def config_or_exit(program: str, argv, fv: flags.FlagValues = flags.FLAGS) -> config_lib.ExperimentConfig:
    """The binaries' shared start: stray arguments and flags of another model end the
    program with one line '<program>: error: ...'; otherwise the resolved config."""
    if len(argv) > 1:
        sys.exit(f"{program}: error: unexpected arguments {' '.join(argv[1:])} (flags start with --)")
    misplaced = misplaced_model_flags(fv)
    if misplaced:
        sys.exit(f"{program}: error: {', '.join(misplaced)} does not apply to --model={fv['model'].value}")
    return config_from_flags(fv)


def config_from_flags(fv: flags.FlagValues = flags.FLAGS) -> config_lib.ExperimentConfig:
    return config_lib.ExperimentConfig.from_flat({name: fv[name].value for name in _D.flat()})
