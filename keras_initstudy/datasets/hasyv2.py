"""HASYv2 (Thoma 2017): 168k 32x32 handwritten symbols in 369 classes, as a TFDS builder.

TFDS has no HASYv2 builder, so this module defines one. Source: Zenodo record
259444, file HASYv2.tar.bz2 (size and sha256 in checksums.tsv). Inside the archive:
    hasy-data/v2-NNNNN.png                      32x32 images
    symbols.csv                                 369 rows: symbol_id, latex, ...
    classification-task/fold-K/{train,test}.csv path,symbol_id,latex,user_id
The csv files quote with `'`, and their paths are relative to the csv's folder.
hasyv2_checks.py verifies the archive and this layout before any example is written.
Labels are row indices 0..368 of symbols.csv; class names are the LaTeX strings.
Paper 000 §3 uses the classification task's fold 1 (about 151k train / 17k test).
"""
import csv
import io
import os
import socket
import urllib.parse
from typing import Dict, Iterator, Optional

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from keras_initstudy import errors
from keras_initstudy.datasets import base, hasyv2_checks, tfds_source

ARCHIVE_NAME = "HASYv2.tar.bz2"
URL = hasyv2_checks.URL  # registered in checksums.tsv: TFDS verifies its download
NUM_CLASSES = hasyv2_checks.NUM_CLASSES
NUM_FOLDS = hasyv2_checks.NUM_FOLDS
IMAGE_SHAPE = (32, 32, 1)


def read_csv(path: epath.Path) -> Iterator[Dict[str, str]]:
    with path.open("r") as f:
        yield from csv.DictReader(f, quotechar="'")


def find_root(extracted: epath.Path) -> epath.Path:
    """The folder holding symbols.csv: the extraction root or a folder just below it."""
    if (extracted / "symbols.csv").exists():
        return extracted
    for child in extracted.iterdir():
        if (child / "symbols.csv").exists():
            return child
    raise errors.DataError(f"{extracted}: no symbols.csv; not the HASYv2 layout")


def symbol_indices(root: epath.Path) -> Dict[str, int]:
    """symbol_id -> label, in symbols.csv row order."""
    ids = [row["symbol_id"] for row in read_csv(root / "symbols.csv")]
    if len(ids) != NUM_CLASSES:
        raise errors.DataError(f"{root / 'symbols.csv'}: {len(ids)} symbols, expected {NUM_CLASSES}")
    return {symbol_id: i for i, symbol_id in enumerate(ids)}


def decode_png(path: epath.Path) -> np.ndarray:
    from PIL import Image  # Pillow comes with matplotlib
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)[..., np.newaxis]


class Hasyv2Config(tfds.core.BuilderConfig):
    """One fold of HASYv2's classification task."""

    def __init__(self, *, fold: int, **kwargs):
        super().__init__(name=f"fold-{fold}",
                         description=f"classification-task/fold-{fold}", **kwargs)
        self.fold = fold


class Hasyv2(tfds.core.GeneratorBasedBuilder):
    """HASYv2 classification task; one config per fold (default fold-1)."""

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {"2.0.0": "HASYv2 as published on Zenodo (record 259444)."}
    BUILDER_CONFIGS = [Hasyv2Config(fold=k) for k in range(1, NUM_FOLDS + 1)]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Download {ARCHIVE_NAME} from https://zenodo.org/record/259444 and place it, "
        "unextracted, in the manual folder (`<data_dir>/downloads/manual/`).")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=IMAGE_SHAPE),
                "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                "latex": tfds.features.Text(),
                "symbol_id": np.int64,
                "user_id": np.int64,
            }),
            supervised_keys=("image", "label"),
            homepage="https://github.com/MartinThoma/HASY",
            citation="Thoma, M. (2017). The HASYv2 dataset. arXiv:1701.08380.",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        archive = self._manual_archive(dl_manager)
        if archive is None:
            archive = epath.Path(dl_manager.download(URL))
        hasyv2_checks.verify_archive(archive)  # a download is checked by TFDS too; a placed one only here
        root = find_root(epath.Path(dl_manager.extract(archive)))
        hasyv2_checks.check_layout(root)
        labels = symbol_indices(root)
        task = root / "classification-task" / f"fold-{self.builder_config.fold}"
        return {split: self._generate_examples(task / f"{split}.csv", labels)
                for split in ("train", "test")}

    @staticmethod
    def _manual_archive(dl_manager) -> Optional[epath.Path]:
        try:
            candidate = epath.Path(dl_manager.manual_dir) / ARCHIVE_NAME
        except (AssertionError, ValueError):  # TFDS: no manual folder, or an empty one
            return None
        return candidate if candidate.exists() else None

    def _generate_examples(self, csv_path: epath.Path, labels: Dict[str, int]):
        for row in read_csv(csv_path):
            image_path = csv_path.parent / row["path"]
            yield os.path.basename(row["path"]), {
                "image": decode_png(image_path),
                "label": labels[row["symbol_id"]],
                "latex": row["latex"],
                "symbol_id": int(row["symbol_id"]),
                "user_id": int(row["user_id"]),
            }


def manual_dir_for(data_dir: Optional[str]) -> str:
    """Where a hand-placed archive is looked for: --data_dir itself when it holds the
    archive, else TFDS's `<data_dir>/downloads/manual`."""
    tfds_dir = os.path.expanduser(data_dir or tfds.core.constants.DATA_DIR)
    if data_dir and os.path.exists(os.path.join(data_dir, ARCHIVE_NAME)):
        return data_dir
    return os.path.join(tfds_dir, "downloads", "manual")


def host_reachable(url: str, timeout: float = 5.0) -> bool:
    """Whether a TCP connection to the url's host opens within `timeout` seconds.

    Offline, TFDS retries a download for minutes before failing; this check lets
    the loader say at once where to put the archive instead.
    """
    parts = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_hasyv2(data_dir: Optional[str], download: bool, fold: int = 1) -> base.Dataset:
    """Prepares (once) and loads one fold; a missing archive gets a one-line error."""
    with tfds_source.quiet():  # TFDS warns that an unprepared folder has no dataset_info.json
        builder = Hasyv2(config=f"fold-{fold}", data_dir=data_dir)
        prepared = builder.is_prepared()
    if not prepared:
        manual_dir = manual_dir_for(data_dir)
        where = (f"download {ARCHIVE_NAME} from https://zenodo.org/record/259444 and put it "
                 f"in {manual_dir} (or in --data_dir)")
        if not os.path.exists(os.path.join(manual_dir, ARCHIVE_NAME)):
            if data_dir and not download:
                raise errors.DataError(f"HASYv2 archive not found in {data_dir}: {where}, or add --download")
            if not host_reachable(URL):
                raise errors.DataError(f"HASYv2 archive not found and {urllib.parse.urlparse(URL).hostname} "
                                       f"is unreachable: {where}")
        try:
            with tfds_source.quiet(), tfds_source.removed_on_failure(tfds_source.new_tfds_folders(
                    builder.name, data_dir or tfds_source.tfds_dir())):
                builder.download_and_prepare(
                    download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
        except errors.UserError:
            raise
        except Exception as e:  # network errors come in many types
            message = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise errors.DataError(f"preparing HASYv2 failed ({message[:160]}): {where}") from e
    return _as_dataset(builder, fold)


def _as_dataset(builder: Hasyv2, fold: int) -> base.Dataset:
    train, test = tfds.as_numpy(builder.as_dataset(split=["train", "test"], batch_size=-1))
    names = [f"symbol_{i}" for i in range(NUM_CLASSES)]
    for split in (train, test):
        for label, latex in zip(split["label"], split["latex"]):
            names[label] = latex.decode("utf-8")
    info = base.DatasetInfo(name="hasyv2" if fold == 1 else f"hasyv2_fold{fold}",
                            num_classes=NUM_CLASSES, input_shape=IMAGE_SHAPE, class_names=tuple(names))
    return base.Dataset(train=base.split_from_uint8(train["image"], train["label"]),
                        test=base.split_from_uint8(test["image"], test["label"]), info=info)


def _register_folds() -> None:
    for fold in range(1, NUM_FOLDS + 1):
        name = "hasyv2" if fold == 1 else f"hasyv2_fold{fold}"
        base.register(name)(lambda data_dir, download, fold=fold: load_hasyv2(data_dir, download, fold))


_register_folds()
