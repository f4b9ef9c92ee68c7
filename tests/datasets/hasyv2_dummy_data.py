"""Writes a small synthetic HASYv2 in the real archive's layout (no real HASYv2 images).

    python tests/datasets/hasyv2_dummy_data.py OUT_DIR [PER_FOLD]   # writes OUT_DIR/HASYv2.tar.bz2

As in Zenodo record 259444's archive, at its root (no enclosing folder):
    symbols.csv              369 rows, header symbol_id,latex,training_samples,test_samples
    hasy-data-labels.csv     header path,symbol_id,latex,user_id; paths hasy-data/v2-NNNNN.png
    hasy-data/v2-NNNNN.png   32x32 RGB
    classification-task/fold-1..10/{train,test}.csv   the same header; paths ../../hasy-data/...
    verification-task/...    README.txt    hasy_tools.py
csv files quote with `'`. Fold K's test split is images PER_FOLD * (K - 1) .. PER_FOLD * K - 1
and its train split every other image, so each image is in exactly one fold's test split.
symbols.csv's training_samples and test_samples are fold 1's counts.
"""
import csv
import os
import sys
import tarfile
import tempfile

import numpy as np
from PIL import Image

NUM_SYMBOLS = 369
NUM_FOLDS = 10
SYMBOL_IDS = [31 + i for i in range(NUM_SYMBOLS - 1)] + [1400]  # row 0: 31, row 5: 36, row 7: 38, row 368: 1400
# (symbol_id, latex) of the first images, then cycling; 1400's latex has a comma (needs the ' quote character)
SYMBOLS_USED = [(31, "A"), (36, r"\alpha"), (1400, "a,b"), (38, r"\int")]
HEADER = ["path", "symbol_id", "latex", "user_id"]


def examples(per_fold: int = 2):
    """(file, symbol_id, latex, user_id) of the NUM_FOLDS * per_fold images."""
    return [(f"v2-{i:05d}.png", *SYMBOLS_USED[i % len(SYMBOLS_USED)], 10 + i) for i in range(NUM_FOLDS * per_fold)]


def folds(per_fold: int = 2):
    """fold -> (train indices, test indices)."""
    n = NUM_FOLDS * per_fold
    return {k: ([i for i in range(n) if not per_fold * (k - 1) <= i < per_fold * k],
                list(range(per_fold * (k - 1), per_fold * k))) for k in range(1, NUM_FOLDS + 1)}


def pixels(i: int) -> np.ndarray:
    """A distinct black-on-white pattern per example: column and row i % 32 are black."""
    image = np.full((32, 32, 3), 255, np.uint8)
    image[:, i % 32, :] = 0
    image[(i // 32) % 32, :, :] = 0
    return image


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, quotechar="'", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_layout(root: str, per_fold: int = 2) -> None:
    found = examples(per_fold)
    train, test = folds(per_fold)[1]
    latex_of = {sid: f"sym{sid}" for sid in SYMBOL_IDS}
    latex_of.update(dict(SYMBOLS_USED))
    count = {sid: [0, 0] for sid in SYMBOL_IDS}
    for column, members in enumerate((train, test)):
        for i in members:
            count[found[i][1]][column] += 1
    write_csv(os.path.join(root, "symbols.csv"), ["symbol_id", "latex", "training_samples", "test_samples"],
              [[sid, latex_of[sid], *count[sid]] for sid in SYMBOL_IDS])
    os.makedirs(os.path.join(root, "hasy-data"))
    for i, (name, _, _, _) in enumerate(found):
        Image.fromarray(pixels(i)).save(os.path.join(root, "hasy-data", name))
    write_csv(os.path.join(root, "hasy-data-labels.csv"), HEADER, [[f"hasy-data/{n}", s, l, u] for n, s, l, u in found])
    for fold, splits in folds(per_fold).items():
        folder = os.path.join(root, "classification-task", f"fold-{fold}")
        os.makedirs(folder)
        for split, members in zip(("train", "test"), splits):
            rows = [[f"../../hasy-data/{found[i][0]}", *found[i][1:]] for i in members]
            write_csv(os.path.join(folder, f"{split}.csv"), HEADER, rows)
    verification = os.path.join(root, "verification-task")
    os.makedirs(verification)
    write_csv(os.path.join(verification, "train.csv"), HEADER, [[f"../hasy-data/{n}", s, l, u] for n, s, l, u in found])
    with open(os.path.join(root, "README.txt"), "w") as f:
        f.write("Synthetic stand-in for HASYv2 (tests only).\n")
    with open(os.path.join(root, "hasy_tools.py"), "w") as f:
        f.write('"""Stand-in for HASYv2\'s helper module."""\n')


def pack(root: str, archive: str) -> str:
    """root's entries at the archive's root, as in the real HASYv2.tar.bz2."""
    with tarfile.open(archive, "w:bz2") as tar:
        for name in sorted(os.listdir(root)):
            tar.add(os.path.join(root, name), arcname=name)
    return archive


def write_archive(out_dir: str, per_fold: int = 2) -> str:
    """Writes out_dir/HASYv2.tar.bz2 and returns its path."""
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as root:
        write_layout(root, per_fold)
        return pack(root, os.path.join(out_dir, "HASYv2.tar.bz2"))


def registered(archive: str):
    """(size, sha256) of an archive, as checksums.tsv would record it."""
    from keras_initstudy.datasets import hasyv2_checks
    from etils import epath
    return os.path.getsize(archive), hasyv2_checks.sha256_of(epath.Path(archive))


if __name__ == "__main__":
    print(write_archive(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2))
