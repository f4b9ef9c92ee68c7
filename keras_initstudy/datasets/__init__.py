"""Datasets by name: `load(name, data_dir, download)` -> Dataset (train, test, info).

Importing this package registers every loader below.
"""
from keras_initstudy.datasets import cifar10, embedded, hasyv2, idx  # noqa: F401 (registration)
from keras_initstudy.datasets.base import (Dataset, DatasetInfo, Split, hold_out, load, names, normalize_channels,
                                           normalize_constants, pad_to, padding_fill)

__all__ = ["Dataset", "DatasetInfo", "Split", "hold_out", "load", "names", "normalize_channels",
           "normalize_constants", "pad_to", "padding_fill"]
