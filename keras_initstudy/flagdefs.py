"""absl flags for the training binaries, one per ExperimentConfig field.

Library modules never define flags at import; binaries call `define_train_flags()`.
Defaults come from the config dataclasses, so they are stated once.
"""
import os

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


def define_train_flags(fv: flags.FlagValues = flags.FLAGS) -> None:
    """Defines every ExperimentConfig field as a flag, with validators."""
    flags.DEFINE_enum("dataset", _D.data.dataset, list(datasets.names()),
                      "Dataset name (fashion_mnist_mini is embedded and needs no files).", flag_values=fv)
    flags.DEFINE_string("data_dir", None, "Folder with the dataset's files (idx .gz, "
                        "cifar-10-batches-py, HASYv2.tar.bz2) or TFDS's data_dir.", flag_values=fv)
    flags.DEFINE_bool("download", _D.data.download,
                      "Let TensorFlow Datasets download data that is not found locally.", flag_values=fv)
    flags.DEFINE_enum("model", _D.model.model, list(models.names()), "Model family.", flag_values=fv)
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
    flags.DEFINE_integer("epochs", _D.training.epochs, "Epochs to train (paper 000: 1000).",
                         lower_bound=1, flag_values=fv)
    flags.DEFINE_integer("batch_size", _D.training.batch_size, "Mini-batch size (paper 000: 128).",
                         lower_bound=1, flag_values=fv)
    flags.DEFINE_float("learning_rate", _D.training.learning_rate, "Learning rate (paper 000: 0.1).",
                       flag_values=fv)
    flags.DEFINE_enum("optimizer", _D.training.optimizer, sorted(training.OPTIMIZERS),
                      "Optimizer (paper 000: plain SGD).", flag_values=fv)
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
    flags.register_validator("experiment", lambda v: os.sep not in v and not v.startswith("."),
                             "must be a plain folder-name prefix", flag_values=fv)
    flags.register_validator("output_dir", bool, "must not be empty", flag_values=fv)


def config_from_flags(fv: flags.FlagValues = flags.FLAGS) -> config_lib.ExperimentConfig:
    return config_lib.ExperimentConfig.from_flat({name: fv[name].value for name in _D.flat()})
