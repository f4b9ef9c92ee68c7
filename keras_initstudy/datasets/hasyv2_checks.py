"""Checks of a HASYv2 archive before the builder reads it: the file, then its layout.

The file: its size and sha256 as registered the TFDS way in checksums.tsv beside this
module (34,597,561 bytes for Zenodo record 259444's HASYv2.tar.bz2). TFDS checks a
download against that entry itself; `verify_archive` checks a hand-placed archive too.

The layout, at the archive's root (Thoma 2017, the HASYv2 README):
    symbols.csv                     369 rows: symbol_id,latex,training_samples,test_samples
    hasy-data-labels.csv            path,symbol_id,latex,user_id; path hasy-data/v2-NNNNN.png
    hasy-data/v2-NNNNN.png          168,233 images
    classification-task/fold-K/{train,test}.csv   K = 1..10; path ../../hasy-data/v2-NNNNN.png
In every fold, train and test are disjoint and together hold every image; each image is
in exactly one fold's test split; a symbol's training_samples + test_samples is its
number of images. A failed check is one line naming the file and what is wrong.
"""
import collections
import csv
import hashlib
import os
from typing import Dict, List, Tuple

from etils import epath

from keras_initstudy import errors

URL = "https://zenodo.org/record/259444/files/HASYv2.tar.bz2"
CHECKSUMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checksums.tsv")
NUM_IMAGES = 168_233
NUM_CLASSES = 369
NUM_FOLDS = 10
SYMBOLS_HEADER = ["symbol_id", "latex", "training_samples", "test_samples"]
ROWS_HEADER = ["path", "symbol_id", "latex", "user_id"]
LABELS_PREFIX = "hasy-data/"  # paths in hasy-data-labels.csv, relative to the root
FOLD_PREFIX = "../../hasy-data/"  # paths in the fold files, relative to their folder


def expected_archive():
    """The registered (size, sha256) of HASYv2.tar.bz2: checksums.tsv's entry for URL."""
    from tensorflow_datasets.core.download import checksums
    info = checksums.load_url_infos(CHECKSUMS)[URL]
    return int(info.size), info.checksum


def sha256_of(path: epath.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_archive(path: epath.Path) -> None:
    """The archive has the registered size and sha256, or a one-line DataError says which not."""
    size, sha256 = expected_archive()
    actual = path.stat().length  # etils StatResult
    if actual != size:
        raise errors.DataError(f"{path}: {actual:,} bytes, HASYv2.tar.bz2 has {size:,}; the archive is "
                               "incomplete or not HASYv2 (download it again)")
    digest = sha256_of(path)
    if digest != sha256:
        raise errors.DataError(f"{path}: sha256 {digest} does not match HASYv2's {sha256}; the archive is "
                               "corrupt or not HASYv2")


def _fail(path: epath.Path, what: str) -> None:
    raise errors.DataError(f"HASYv2 layout: {path}: {what}")


def _rows(path: epath.Path, header: List[str]) -> List[Dict[str, str]]:
    if not path.exists():
        _fail(path, "missing")
    with path.open("r") as f:
        reader = csv.DictReader(f, quotechar="'")
        if reader.fieldnames != header:
            _fail(path, f"header {','.join(reader.fieldnames or [])}, expected {','.join(header)}")
        return list(reader)


def check_symbols(root: epath.Path, num_classes: int = NUM_CLASSES) -> Dict[str, Tuple[str, int]]:
    """symbol_id -> (latex, training_samples + test_samples), checked."""
    path = root / "symbols.csv"
    rows = _rows(path, SYMBOLS_HEADER)
    if len(rows) != num_classes:
        _fail(path, f"{len(rows)} symbols, expected {num_classes}")
    symbols = {}
    for row in rows:
        if row["symbol_id"] in symbols:
            _fail(path, f"symbol {row['symbol_id']} listed twice")
        try:
            symbols[row["symbol_id"]] = (row["latex"], int(row["training_samples"]) + int(row["test_samples"]))
        except (TypeError, ValueError):
            _fail(path, f"symbol {row['symbol_id']}: sample counts are not integers")
    return symbols


def check_labels(root: epath.Path, symbols: Dict[str, Tuple[str, int]],
                 num_images: int = NUM_IMAGES) -> Dict[str, Tuple[str, str, str]]:
    """image name (v2-NNNNN.png) -> (symbol_id, latex, user_id) from hasy-data-labels.csv,
    every image present and every symbol's count as symbols.csv says."""
    path = root / "hasy-data-labels.csv"
    images = {}
    for row in _rows(path, ROWS_HEADER):
        if not row["path"].startswith(LABELS_PREFIX):
            _fail(path, f"path {row['path']} is not under {LABELS_PREFIX}")
        name = row["path"][len(LABELS_PREFIX):]
        if name in images:
            _fail(path, f"{row['path']} listed twice")
        if row["symbol_id"] not in symbols:
            _fail(path, f"{row['path']}: symbol {row['symbol_id']} is not in symbols.csv")
        if row["latex"] != symbols[row["symbol_id"]][0]:
            _fail(path, f"{row['path']}: latex {row['latex']!r}, symbols.csv says {symbols[row['symbol_id']][0]!r}")
        if not (root / row["path"]).exists():
            _fail(root / row["path"], "image missing")
        images[name] = (row["symbol_id"], row["latex"], row["user_id"])
    if len(images) != num_images:
        _fail(path, f"{len(images):,} images, expected {num_images:,}")
    counts = collections.Counter(symbol_id for symbol_id, _, _ in images.values())
    for symbol_id, (latex, expected) in symbols.items():
        if counts[symbol_id] != expected:
            _fail(root / "symbols.csv", f"symbol {symbol_id} ({latex}): training_samples + test_samples = "
                                        f"{expected}, but {counts[symbol_id]} images")
    return images


def check_fold(root: epath.Path, fold: int, images: Dict[str, Tuple[str, str, str]]) -> set:
    """One fold's train and test files: rows agree with hasy-data-labels.csv, the splits are
    disjoint and hold every image. Returns the test split's images."""
    folder = root / "classification-task" / f"fold-{fold}"
    splits = {}
    for split in ("train", "test"):
        path = folder / f"{split}.csv"
        names = set()
        for row in _rows(path, ROWS_HEADER):
            if not row["path"].startswith(FOLD_PREFIX):
                _fail(path, f"path {row['path']} is not under {FOLD_PREFIX}")
            name = row["path"][len(FOLD_PREFIX):]
            if name not in images:
                _fail(path, f"{row['path']}: image missing (not in hasy-data-labels.csv)")
            if (row["symbol_id"], row["latex"]) != images[name][:2]:
                _fail(path, f"{row['path']}: symbol {row['symbol_id']} {row['latex']!r}, hasy-data-labels.csv "
                            f"says {images[name][0]} {images[name][1]!r}")
            if name in names:
                _fail(path, f"{row['path']} listed twice")
            names.add(name)
        splits[split] = names
    both = splits["train"] & splits["test"]
    if both:
        _fail(folder, f"{len(both)} images in both train and test (first: {sorted(both)[0]})")
    total = len(splits["train"]) + len(splits["test"])
    if total != len(images):
        _fail(folder, f"train {len(splits['train']):,} + test {len(splits['test']):,} = {total:,} images, "
                      f"expected {len(images):,}")
    return splits["test"]


def check_layout(root: epath.Path) -> None:
    """Every structural check above, in order, against NUM_IMAGES, NUM_CLASSES and
    NUM_FOLDS; the first failure raises a one-line DataError."""
    symbols = check_symbols(root, NUM_CLASSES)
    images = check_labels(root, symbols, NUM_IMAGES)
    tested = collections.Counter()
    for fold in range(1, NUM_FOLDS + 1):
        tested.update(check_fold(root, fold, images))
    twice = sorted(name for name, n in tested.items() if n > 1)
    if twice:
        _fail(root / "classification-task", f"{len(twice)} images in several folds' test splits (first: {twice[0]})")
    never = sorted(set(images) - set(tested))
    if never:
        _fail(root / "classification-task", f"{len(never)} images in no fold's test split (first: {never[0]})")
