"""`fashion_mnist_mini`: the embedded default, a stratified seeded subset of Fashion-MNIST.

6,000 training images (600 per class) and 1,000 test images (100 per class) of the
real dataset, shipped as idx files inside the package so that every binary runs
offline. `tools/build_fashion_mnist_mini.py` rebuilds the files byte-for-byte from
the full idx files with `subset_indices` below. Fashion-MNIST is (c) Zalando SE,
MIT licence; see data/fashion_mnist_mini/LICENSE.
"""
import os
from typing import Optional

import numpy as np

from keras_initstudy.datasets import base, idx

NAME = "fashion_mnist_mini"
TRAIN_PER_CLASS = 600
TEST_PER_CLASS = 100
SEED = 20170825  # Fashion-MNIST's release date; any fixed value would do
DATA_DIR = os.path.join(os.path.dirname(__file__), "data", NAME)


def subset_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of `per_class` examples of each class, drawn without replacement."""
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) < per_class:
            raise ValueError(f"class {cls} has {len(members)} examples, fewer than {per_class}")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


@base.register(NAME)
def load_fashion_mnist_mini(data_dir: Optional[str], download: bool) -> base.Dataset:
    del data_dir, download  # always the copy inside the package
    return idx.load_idx_dir(DATA_DIR, NAME, idx.FASHION_MNIST_CLASSES)
