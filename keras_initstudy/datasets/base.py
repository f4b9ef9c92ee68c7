"""What every dataset loader returns, and the registry that maps names to loaders."""
import dataclasses
from typing import Callable, Optional, Tuple

import numpy as np

from keras_initstudy import errors
from keras_initstudy.registry import Registry


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    input_shape: Tuple[int, ...]  # (height, width, channels)
    class_names: Tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Split:
    images: np.ndarray  # float32 in [0, 1], shape (n, height, width, channels)
    labels: np.ndarray  # int64 class indices, shape (n,)

    def __len__(self) -> int:
        return len(self.labels)


@dataclasses.dataclass(frozen=True)
class Dataset:
    train: Split
    test: Split
    info: DatasetInfo
    validation: Optional[Split] = None  # held out of the training split (hold_out)


def map_images(data: Dataset, transform: Callable[[np.ndarray], np.ndarray],
               info: Optional[DatasetInfo] = None) -> Dataset:
    """`data` with `transform` applied to the images of every split it has (labels kept)."""
    apply = lambda split: None if split is None else Split(images=transform(split.images), labels=split.labels)
    return Dataset(apply(data.train), apply(data.test), info or data.info, apply(data.validation))


def pad_to(data: Dataset, size: int) -> Dataset:
    """Every image zero-padded to size x size (centred; an odd margin goes below and right)."""
    height, width = data.info.input_shape[:2]
    if size < max(height, width):
        raise errors.UserError(f"--pad_to={size} is smaller than the {height}x{width} images")
    top, left = (size - height) // 2, (size - width) // 2
    pads = ((0, 0), (top, size - height - top), (left, size - width - left), (0, 0))
    info = dataclasses.replace(data.info, input_shape=(size, size, *data.info.input_shape[2:]))
    return map_images(data, lambda images: np.pad(images, pads), info)


def channel_statistics(images: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) standard deviation over every pixel of every
    image, accumulated in float64 without a float64 copy of the images."""
    count = images.size // images.shape[-1]
    total = np.zeros(images.shape[-1])
    squares = np.zeros(images.shape[-1])
    for chunk in np.array_split(images, max(1, len(images) // 4096)):
        flat = chunk.reshape(-1, images.shape[-1]).astype(np.float64)
        total += flat.sum(axis=0)
        squares += (flat ** 2).sum(axis=0)
    mean = total / count
    return mean, np.sqrt(np.maximum(squares / count - mean ** 2, 0.0))


def normalize_channels(data: Dataset) -> Dataset:
    """Every split shifted and scaled per channel by the training split's mean and standard
    deviation (paper 002's CIFAR-10 preprocessing: on CIFAR-10 these are the authors'
    constants (125.3, 123.0, 113.9) / 255 and (63.0, 62.1, 66.7) / 255 before rounding)."""
    mean, std = channel_statistics(data.train.images)
    if np.any(std == 0):
        raise errors.UserError(f"--normalize=per_channel: a channel of {data.info.name}'s training images is "
                               "constant")
    return map_images(data, lambda images: ((images - mean) / std).astype(np.float32))


# Fixed (mean, std) per RGB channel of pixels in [0, 1], subtracted and divided after loading.
CONSTANT_NORMALIZATIONS = {
    # open_lth's datasets/cifar10.py (paper 004's code): ImageNet's statistics, for CIFAR-10 too
    "imagenet_constants": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    # kuangliu/pytorch-cifar's CIFAR-10 constants, which paper 001's ResNet-50 code adapts
    "cifar10_constants": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
}


def normalize_constants(data: Dataset, scheme: str) -> Dataset:
    """Every split shifted and scaled per channel by one of CONSTANT_NORMALIZATIONS."""
    mean, std = (np.asarray(v, np.float32) for v in CONSTANT_NORMALIZATIONS[scheme])
    if data.info.input_shape[-1] != len(mean):
        raise errors.UserError(f"--normalize={scheme} is for RGB images; {data.info.name} has "
                               f"{data.info.input_shape[-1]} channel(s)")
    return map_images(data, lambda images: ((images - mean) / std).astype(np.float32))


def padding_fill(scheme: str) -> Optional[np.ndarray]:
    """The normalised value of a black pixel under a constant normalisation: what
    torchvision's RandomCrop(padding=4), which pads raw pixels with 0 before Normalize,
    pads with in normalised space; None for the other schemes (pads with 0)."""
    if scheme not in CONSTANT_NORMALIZATIONS:
        return None
    mean, std = (np.asarray(v, np.float32) for v in CONSTANT_NORMALIZATIONS[scheme])
    return -mean / std


def hold_out(data: Dataset, amount: float, seed: int) -> Dataset:
    """`amount` of the training examples (a fraction below 1: round(amount x n); from 1: a count,
    as paper 001's VALIDATION_DATASET_SIZE = 7000), a seeded random choice, moved into a
    validation split; the rest, in their original order, stay for training."""
    n = len(data.train)
    count = int(amount) if amount >= 1 else int(round(amount * n))
    if not 0 < count < n:
        raise errors.UserError(f"--validation_split={amount:g} holds out {count} of {n} training examples")
    chosen = np.zeros(n, bool)
    chosen[np.random.default_rng(seed).choice(n, size=count, replace=False)] = True
    pick = lambda split, keep: Split(images=split.images[keep], labels=split.labels[keep])
    return dataclasses.replace(data, train=pick(data.train, ~chosen), validation=pick(data.train, chosen))


def split_from_uint8(images: np.ndarray, labels: np.ndarray) -> Split:
    """Scales uint8 pixels to [0, 1] float32 and adds a channel axis if missing."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    return Split(images=images.astype(np.float32) / 255.0,
                 labels=np.asarray(labels).astype(np.int64))


# A loader takes (data_dir, download) and returns a Dataset.
Loader = Callable[[Optional[str], bool], Dataset]
LOADERS: Registry[Loader] = Registry("dataset", errors.UserError)


def register(name: str) -> Callable[[Loader], Loader]:
    """Decorator adding a loader under `name`; a second loader for a name is an error."""
    return LOADERS.register(name)


def names() -> Tuple[str, ...]:
    return LOADERS.names()


def load(name: str, data_dir: Optional[str] = None, download: bool = True) -> Dataset:
    """Loads a registered dataset; an unknown name lists the valid ones."""
    return LOADERS.get(name)(data_dir, download)
