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
    """Makes every TensorFlow op deterministic (raises on ops that cannot be). Process-wide."""
    tf.config.experimental.enable_op_determinism()


def set_op_determinism(enabled: bool) -> None:
    """Turns op determinism on or off for the whole process.

    TensorFlow's public API can only turn it on; turning it off uses the same
    framework switch (tensorflow.python.framework.config), so that one process
    can run deterministic and non-deterministic configurations one after another
    (the determinism comparison does).
    """
    if enabled:
        enable_op_determinism()
    else:
        _tf_config.disable_op_determinism()


def environment(mechanism: str) -> dict:
    """What a run's non-determinism depends on, for its run directory."""
    import keras as _keras
    return {"device": device_description(), "tensorflow": tf.__version__, "keras": _keras.__version__,
            "op_determinism": op_determinism_enabled(), "mechanism": mechanism}


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
