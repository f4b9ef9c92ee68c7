"""The fallback for datasets without local files: `tfds.load` (downloads when online)."""
from typing import Optional, Sequence

from keras_initstudy import errors
from keras_initstudy.datasets import base


def load(name: str, class_names: Sequence[str], data_dir: Optional[str], download: bool,
         hint: str) -> base.Dataset:
    """Loads the train and test splits of TFDS dataset `name` into memory."""
    import tensorflow_datasets as tfds  # slow to import; only this path needs it

    try:
        train, test = tfds.as_numpy(tfds.load(
            name, split=["train", "test"], batch_size=-1, as_supervised=True,
            data_dir=data_dir, download=download))
    except Exception as e:  # TFDS raises many types (network, missing files, asserts)
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise errors.DataError(
            f"could not load {name} through TensorFlow Datasets "
            f"({'download enabled' if download else 'download disabled'}): {first_line}; {hint}") from e
    train_split = base.split_from_uint8(*train)
    test_split = base.split_from_uint8(*test)
    info = base.DatasetInfo(name=name, num_classes=len(class_names),
                            input_shape=train_split.images.shape[1:],
                            class_names=tuple(class_names))
    return base.Dataset(train=train_split, test=test_split, info=info)
