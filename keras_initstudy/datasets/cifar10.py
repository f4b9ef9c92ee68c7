"""CIFAR-10 from the python-pickle batches (`cifar-10-batches-py`).

Each batch is a pickled dict with b"data" (n x 3072 uint8, channel-major: 1024 red,
1024 green, 1024 blue values of a 32x32 image) and b"labels" (n ints). Unpickling
is restricted to the NumPy types those files contain, so a hostile file cannot
run code.
"""
import os
import pickle
from typing import Optional

import numpy as np

from keras_initstudy import errors
from keras_initstudy.datasets import base, tfds_source

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how Python 3 writes bytes in protocol-2 pickles
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def read_batch(path: str):
    """Returns (images (n, 32, 32, 3) uint8, labels (n,)) of one batch file."""
    try:
        with open(path, "rb") as f:
            batch = _NumpyOnlyUnpickler(f, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as e:
        raise errors.DataError(f"{path}: not a readable CIFAR-10 batch: {e}") from e
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise errors.DataError(f"{path}: not a CIFAR-10 batch (needs keys b'data' and b'labels')")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise errors.DataError(f"{path}: data has shape {data.shape} and dtype {data.dtype}, "
                               "expected (n, 3072) uint8")
    if len(data) != len(labels):
        raise errors.DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise errors.DataError(f"{path}: labels outside 0..9")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def batches_dir(data_dir: Optional[str]) -> Optional[str]:
    """The folder holding the batches: data_dir itself or its cifar-10-batches-py/."""
    if not data_dir:
        return None
    for candidate in (os.path.join(data_dir, "cifar-10-batches-py"), data_dir):
        if os.path.exists(os.path.join(candidate, TEST_BATCH)):
            return candidate
    return None


def load_batches_dir(folder: str) -> base.Dataset:
    missing = [b for b in TRAIN_BATCHES + (TEST_BATCH,) if not os.path.exists(os.path.join(folder, b))]
    if missing:
        raise errors.DataError(f"{folder}: missing CIFAR-10 batches {', '.join(missing)}")
    parts = [read_batch(os.path.join(folder, b)) for b in TRAIN_BATCHES]
    train = base.split_from_uint8(np.concatenate([p[0] for p in parts]),
                                  np.concatenate([p[1] for p in parts]))
    test = base.split_from_uint8(*read_batch(os.path.join(folder, TEST_BATCH)))
    info = base.DatasetInfo(name="cifar10", num_classes=len(CLASSES), input_shape=(32, 32, 3),
                            class_names=CLASSES)
    return base.Dataset(train=train, test=test, info=info)


@base.register("cifar10")
def load_cifar10(data_dir: Optional[str], download: bool) -> base.Dataset:
    folder = batches_dir(data_dir)
    if folder is not None:
        return load_batches_dir(folder)
    return tfds_source.load("cifar10", CLASSES, data_dir, download,
                            missing=["cifar-10-batches-py/ (or its batch files)"])
