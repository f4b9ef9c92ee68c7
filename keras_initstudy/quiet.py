"""TensorFlow's start-up without the lines a user cannot act on.

Importing TensorFlow on a machine without a GPU prints 4-5 lines from its C++ start-up
(no CUDA driver, a failed cuInit, the CPU instructions it was not built for), written
straight to file descriptor 2 before its logging is set up, so TF_CPP_MIN_LOG_LEVEL does
not reach them. The binaries import TensorFlow through `start_tensorflow()`, which holds
file descriptor 2 in a temporary file during the import and the device discovery and
then passes on every line but those. Where a GPU is present (/dev/nvidia0) but TensorFlow
finds none, the CUDA lines are the user's clue, and all are passed on.

Retracing warnings (a new model each pruning round or sweep run traces new functions,
as it must) are dropped from TensorFlow's Python logger as well.
"""
import glob
import logging
import os
import re
import sys
import tempfile

NOISE = re.compile("|".join((
    r"All log messages before absl::InitializeLog\(\) is called",
    r"cudart_stub\.cc.*Could not find cuda drivers",
    r"cuda_platform\.cc.*failed call to cuInit",
    r"cpu_feature_guard\.cc",
    r"^To enable the following instructions",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation placer already registered",
    r"oneDNN custom operations are on",
)))
RETRACING = "triggered tf.function retracing"

_started = False


class _DropRetracing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return RETRACING not in record.getMessage()


def passed_on(lines, gpus_found: bool, gpu_present: bool):
    """The start-up lines to show: all where a GPU is present but unused, else all but NOISE."""
    if gpu_present and not gpus_found:
        return list(lines)
    return [line for line in lines if not NOISE.search(line)]


def start_tensorflow() -> None:
    """Imports TensorFlow and discovers its devices once, with NOISE held back."""
    global _started
    if _started:
        return
    _started = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    gpus_found = False
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow as tf
            gpus_found = bool(tf.config.list_physical_devices("GPU"))
            tf.get_logger().addFilter(_DropRetracing())
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines()
            for line in passed_on(lines, gpus_found, bool(glob.glob("/dev/nvidia[0-9]*"))):
                sys.stderr.write(line + "\n")
            sys.stderr.flush()
