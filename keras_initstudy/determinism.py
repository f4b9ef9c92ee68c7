"""Seeding and TensorFlow's op determinism.

Paper 002 contrasts deterministic runs (which keep a symmetric network symmetric)
with the framework's default (non-deterministic on GPUs); this module holds the
switches both use.
"""
import keras
import tensorflow as tf
# The public API has no getter; the flag lives in TensorFlow's framework config.
from tensorflow.python.framework import config as _tf_config


def seed_everything(seed: int) -> None:
    """Seeds Python's `random`, NumPy and TensorFlow (Keras's global seed)."""
    keras.utils.set_random_seed(seed)


def enable_op_determinism() -> None:
    """Makes every TensorFlow op deterministic (raises on ops that cannot be).

    This is process-wide and cannot be undone, so binaries call it once, before
    building anything, when `--deterministic` is set.
    """
    tf.config.experimental.enable_op_determinism()


def op_determinism_enabled() -> bool:
    return bool(_tf_config.is_op_determinism_enabled())


def device_description() -> str:
    """'GPU: <names>' or 'CPU only', for reports that depend on the hardware."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU only"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return "GPU: " + ", ".join(names)
