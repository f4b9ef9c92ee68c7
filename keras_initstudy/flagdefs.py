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
    flags.register_validator("experiment", lambda v: os.sep not in v and not v.startswith("."),
                             "must be a plain folder-name prefix", flag_values=fv)
    flags.register_validator("output_dir", bool, "must not be empty", flag_values=fv)


def config_from_flags(fv: flags.FlagValues = flags.FLAGS) -> config_lib.ExperimentConfig:
    return config_lib.ExperimentConfig.from_flat({name: fv[name].value for name in _D.flat()})
