"""MNIST and Fashion-MNIST from the standard idx files (LeCun's format).

An idx file is: two zero bytes, a type code (0x08 = unsigned byte), the number of
dimensions, one big-endian uint32 per dimension, then the data. Files may be
gzip-compressed (`.gz`), as distributed.
"""
import gzip
import os
import struct
import zlib
from typing import Optional, Sequence

import numpy as np

from keras_initstudy import errors
from keras_initstudy.datasets import base, tfds_source

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

_UBYTE = 0x08

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def read_idx(path: str, ndim: int) -> np.ndarray:
    """Reads one idx file of unsigned bytes with `ndim` dimensions.

    Raises DataError naming the file when it is unreadable, has the wrong magic
    number, or holds fewer or more bytes than its header announces.
    """
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise errors.DataError(f"{path}: cannot read: {e}") from e
    if len(data) < 4 + 4 * ndim:
        raise errors.DataError(f"{path}: truncated: the header needs {4 + 4 * ndim} bytes, "
                               f"the file has {len(data)}")
    zeros, type_code, file_ndim = struct.unpack(">HBB", data[:4])
    if zeros != 0 or type_code != _UBYTE or file_ndim != ndim:
        magic = struct.unpack(">I", data[:4])[0]
        expected = (_UBYTE << 8) | ndim
        raise errors.DataError(f"{path}: bad magic number 0x{magic:08x}, expected "
                               f"0x{expected:08x} ({ndim}-d unsigned bytes)")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    payload = data[4 + 4 * ndim:]
    expected_bytes = int(np.prod(shape))
    if len(payload) != expected_bytes:
        raise errors.DataError(f"{path}: {'truncated' if len(payload) < expected_bytes else 'too long'}: "
                               f"header shape {shape} needs {expected_bytes} bytes of data, "
                               f"found {len(payload)}")
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)


def present_files(data_dir: Optional[str]) -> dict:
    """Maps each of the four standard names found in `data_dir` to its path (.gz or not)."""
    found = {}
    for name in FILES if data_dir else ():
        for candidate in (name + ".gz", name):
            if os.path.exists(os.path.join(data_dir, candidate)):
                found[name] = os.path.join(data_dir, candidate)
                break
    return found


def find_files(data_dir: Optional[str]) -> Optional[dict]:
    """Maps each of the four standard names to its path (.gz or not), or None."""
    found = present_files(data_dir)
    return found if len(found) == len(FILES) else None


def read_split(images_path: str, labels_path: str, num_classes: int) -> base.Split:
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise errors.DataError(f"{images_path} holds {len(images)} images but "
                               f"{labels_path} holds {len(labels)} labels")
    if labels.size and labels.max() >= num_classes:
        raise errors.DataError(f"{labels_path}: label {labels.max()} is not below {num_classes}")
    return base.split_from_uint8(images, labels)


def load_idx_dir(data_dir: str, name: str, class_names: Sequence[str]) -> base.Dataset:
    """Reads the four standard files from `data_dir`."""
    paths = find_files(data_dir)
    if paths is None:
        raise errors.DataError(f"{data_dir} does not hold the four idx files {', '.join(FILES)} (.gz)")
    n = len(class_names)
    train = read_split(paths[TRAIN_IMAGES], paths[TRAIN_LABELS], n)
    test = read_split(paths[TEST_IMAGES], paths[TEST_LABELS], n)
    info = base.DatasetInfo(name=name, num_classes=n, input_shape=train.images.shape[1:],
                            class_names=tuple(class_names))
    return base.Dataset(train=train, test=test, info=info)


def _idx_or_tfds(name: str, class_names: Sequence[str], data_dir: Optional[str],
                 download: bool) -> base.Dataset:
    found = present_files(data_dir)
    if len(found) == len(FILES):
        return load_idx_dir(data_dir, name, class_names)
    return tfds_source.load(name, class_names, data_dir, download,
                            missing=[f for f in FILES if f not in found], what=" (.gz or not)")


@base.register("mnist")
def load_mnist(data_dir: Optional[str], download: bool) -> base.Dataset:
    return _idx_or_tfds("mnist", MNIST_CLASSES, data_dir, download)


@base.register("fashion_mnist")
def load_fashion_mnist(data_dir: Optional[str], download: bool) -> base.Dataset:
    return _idx_or_tfds("fashion_mnist", FASHION_MNIST_CLASSES, data_dir, download)


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes a uint8 array as an idx file; gzip (mtime 0, level 9) when `path` ends in .gz.

    The fixed gzip header makes the output byte-for-byte reproducible.
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, _UBYTE, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    payload = header + array.tobytes()
    if path.endswith(".gz"):
        with open(path, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
                f.write(payload)
    else:
        with open(path, "wb") as f:
            f.write(payload)
