"""The fallback for datasets without local files: `tfds.load`, which downloads when asked.

Local files come first (each loader looks for its own). TensorFlow Datasets is then asked
only for a copy it already prepared in --data_dir, or for a download when the user asked
for one (--download) or gave no --data_dir. A download that fails does so within about a
timeout (TFDS's own retry loop would try for minutes offline) and leaves no folder behind.
"""
import contextlib
import logging
import os
import re
import shutil
import socket
from typing import Iterator, List, Optional, Sequence

from keras_initstudy import errors
from keras_initstudy.datasets import base

DOWNLOAD_TIMEOUT_S = 20.0  # per connection attempt; one retry
DOWNLOAD_RETRIES = 1


def missing_message(name: str, data_dir: str, missing: Sequence[str], what: str) -> str:
    """'fashion_mnist: /d lacks train-images-idx3-ubyte, ... (.gz or not) ...' in one line."""
    where = data_dir if os.path.isdir(data_dir) else f"{data_dir} (no such folder)"
    return (f"{name}: {where} lacks {', '.join(missing)}{what}, and holds no TensorFlow Datasets copy "
            f"({os.path.join(data_dir, name)}); put the files there, or add --download to fetch {name}")


def load(name: str, class_names: Sequence[str], data_dir: Optional[str], download: bool,
         missing: Sequence[str], what: str = "") -> base.Dataset:
    """The train and test splits of TFDS dataset `name`, in memory. `missing`: the local files
    the caller looked for in `data_dir` and did not find (named in the error), `what` a note on
    them (' (.gz or not)')."""
    if data_dir and not download and not os.path.isdir(os.path.join(data_dir, name)):
        raise errors.DataError(missing_message(name, data_dir, missing, what))
    import tensorflow_datasets as tfds  # slow to import; only this path needs it

    fetch = download or not data_dir
    into = data_dir or tfds_dir()
    with quiet():  # TFDS warns that a folder it has not prepared yet has no dataset_info.json
        prepared = tfds.builder(name, data_dir=data_dir).is_prepared()
    if fetch and not prepared:
        print(f"{name}: downloading through TensorFlow Datasets into {into} (once)", flush=True)
    try:
        with quiet(), bounded_download(), removed_on_failure(new_tfds_folders(name, into)):
            train, test = tfds.as_numpy(tfds.load(
                name, split=["train", "test"], batch_size=-1, as_supervised=True,
                data_dir=data_dir, download=fetch))
    except Exception as e:  # TFDS raises many types (network, missing files, asserts)
        local = f"; or put {', '.join(missing)}{what} in --data_dir" if missing else ""
        raise errors.DataError(f"could not load {name} through TensorFlow Datasets "
                               f"({'download tried' if fetch else 'no download'} into {into}): {cause(e)}{local}") from e
    train_split = base.split_from_uint8(*train)
    test_split = base.split_from_uint8(*test)
    info = base.DatasetInfo(name=name, num_classes=len(class_names),
                            input_shape=train_split.images.shape[1:],
                            class_names=tuple(class_names))
    return base.Dataset(train=train_split, test=test_split, info=info)


def cause(e: BaseException) -> str:
    """A failed download's cause in a few words ('cannot resolve host.example (offline?)')."""
    text = " ".join(str(e).split()) or type(e).__name__
    host = re.search(r"host='([^']+)'", text)
    if host and ("NameResolutionError" in text or "Failed to resolve" in text):
        return f"cannot resolve {host.group(1)} (offline?)"
    if host and ("timed out" in text or "Timeout" in text):
        return f"no answer from {host.group(1)} within {DOWNLOAD_TIMEOUT_S:.0f} s"
    return text[:200]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """TFDS's progress bars and its log lines (retries, 'no dataset_info.json') held back: a
    failure ends in one line, and a download is announced in one."""
    import tensorflow_datasets as tfds
    from absl import logging as absl_logging
    old, urllib3 = absl_logging.get_verbosity(), logging.getLogger("urllib3")
    old_urllib3 = urllib3.level
    absl_logging.set_verbosity(absl_logging.ERROR)
    urllib3.setLevel(logging.ERROR)
    tfds.disable_progress_bar()
    try:
        yield
    finally:
        absl_logging.set_verbosity(old)
        urllib3.setLevel(old_urllib3)
        tfds.enable_progress_bar()


def tfds_dir() -> str:
    """TensorFlow Datasets' default data_dir (~/tensorflow_datasets, or $TFDS_DATA_DIR)."""
    import tensorflow_datasets as tfds
    return os.path.expanduser(tfds.core.constants.DATA_DIR)


def new_tfds_folders(name: str, data_dir: str) -> List[str]:
    """The folders a TFDS load may create under `data_dir` that do not exist yet (outermost first)."""
    candidates = [data_dir, os.path.join(data_dir, name), os.path.join(data_dir, "downloads")]
    return [c for c in candidates if not os.path.exists(c)]


@contextlib.contextmanager
def removed_on_failure(folders: Sequence[str]) -> Iterator[None]:
    """Folders that did not exist before are removed again when the block fails."""
    try:
        yield
    except BaseException:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        raise


@contextlib.contextmanager
def bounded_download() -> Iterator[None]:
    """TFDS's downloader retries 10 times with no connection timeout; here once, within
    DOWNLOAD_TIMEOUT_S per attempt (requests reads the socket module's default timeout)."""
    from tensorflow_datasets.core.download import downloader
    old_retries, old_timeout = downloader.MAX_RETRIES, socket.getdefaulttimeout()
    downloader.MAX_RETRIES = DOWNLOAD_RETRIES
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        yield
    finally:
        downloader.MAX_RETRIES = old_retries
        socket.setdefaulttimeout(old_timeout)
