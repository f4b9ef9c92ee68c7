"""Writes a tiny synthetic HASYv2 in the real archive layout (no real HASYv2 images).

    python tests/datasets/hasyv2_dummy_data.py OUT_DIR   # writes OUT_DIR/HASYv2.tar.bz2

Layout, as in the Zenodo archive: symbols.csv (369 rows), hasy-data/*.png (32x32
RGB), hasy-data-labels.csv, classification-task/fold-K/{train,test}.csv with
`'` as quote character and paths relative to the csv.
"""
import csv
import hashlib
import os
import sys
import tarfile
import tempfile

import numpy as np
from PIL import Image

NUM_SYMBOLS = 369
# (file, symbol_id, latex, user_id); symbol ids index symbols.csv rows 0, 5, 368, 7.
EXAMPLES = [
    ("v2-00000.png", 31, "A", 10),
    ("v2-00001.png", 36, r"\alpha", 11),
    ("v2-00002.png", 1400, "a,b", 12),  # a comma: needs the ' quote character
    ("v2-00003.png", 38, r"\int", 13),
    ("v2-00004.png", 31, "A", 14),
    ("v2-00005.png", 36, r"\alpha", 15),
]
SYMBOL_IDS = [31 + i for i in range(NUM_SYMBOLS - 1)] + [1400]  # row 0: 31, row 5: 36, row 7: 38, row 368: 1400
FOLDS = {1: ([0, 1, 2, 3], [4, 5]), 2: ([2, 3, 4, 5], [0, 1])}


def pixels(i: int) -> np.ndarray:
    """A distinct black-on-white pattern per example: column i and row i are black."""
    image = np.full((32, 32, 3), 255, np.uint8)
    image[:, i, :] = 0
    image[i, :, :] = 0
    return image


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, quotechar="'", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_layout(root: str) -> None:
    latex_of = {sid: f"sym{sid}" for sid in SYMBOL_IDS}
    latex_of.update({sid: latex for _, sid, latex, _ in EXAMPLES})
    write_csv(os.path.join(root, "symbols.csv"), ["symbol_id", "latex", "training_samples", "test_samples"],
              [[sid, latex_of[sid], 1, 1] for sid in SYMBOL_IDS])
    os.makedirs(os.path.join(root, "hasy-data"))
    for i, (name, _, _, _) in enumerate(EXAMPLES):
        Image.fromarray(pixels(i)).save(os.path.join(root, "hasy-data", name))
    write_csv(os.path.join(root, "hasy-data-labels.csv"), ["path", "symbol_id", "latex", "user_id"],
              [[f"hasy-data/{n}", s, l, u] for n, s, l, u in EXAMPLES])
    for fold, splits in FOLDS.items():
        folder = os.path.join(root, "classification-task", f"fold-{fold}")
        os.makedirs(folder)
        for split, members in zip(("train", "test"), splits):
            rows = [[f"../../hasy-data/{EXAMPLES[i][0]}", *EXAMPLES[i][1:]] for i in members]
            write_csv(os.path.join(folder, f"{split}.csv"), ["path", "symbol_id", "latex", "user_id"], rows)


def write_archive(out_dir: str) -> str:
    """Writes out_dir/HASYv2.tar.bz2 and returns its md5."""
    os.makedirs(out_dir, exist_ok=True)
    archive = os.path.join(out_dir, "HASYv2.tar.bz2")
    with tempfile.TemporaryDirectory() as root:
        write_layout(root)
        with tarfile.open(archive, "w:bz2") as tar:
            for name in sorted(os.listdir(root)):
                tar.add(os.path.join(root, name), arcname=name)
    with open(archive, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


if __name__ == "__main__":
    print(write_archive(sys.argv[1]))
