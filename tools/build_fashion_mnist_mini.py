"""Rebuilds the embedded `fashion_mnist_mini` idx files from full Fashion-MNIST.

    python tools/build_fashion_mnist_mini.py --source_dir=/usr/share/datasets/fashion-mnist
    python tools/build_fashion_mnist_mini.py --source_dir=... --check   # compare, write nothing

(Debian's `dataset-fashion-mnist` package installs the four idx files there.)
"""
import filecmp
import os
import sys
import tempfile

from absl import app, flags

from keras_initstudy import errors
from keras_initstudy.datasets import embedded, idx

FLAGS = flags.FLAGS
flags.DEFINE_string("source_dir", "/usr/share/datasets/fashion-mnist",
                    "Folder with the four full Fashion-MNIST idx .gz files.")
flags.DEFINE_string("output_dir", embedded.DATA_DIR, "Where to write the subset.")
flags.DEFINE_bool("check", False, "Only compare a fresh build with --output_dir's files.")


def build(source_dir: str, output_dir: str) -> None:
    paths = idx.find_files(source_dir)
    if paths is None:
        raise errors.DataError(f"{source_dir} does not hold the four Fashion-MNIST idx files")
    os.makedirs(output_dir, exist_ok=True)
    for images_name, labels_name, per_class in (
            (idx.TRAIN_IMAGES, idx.TRAIN_LABELS, embedded.TRAIN_PER_CLASS),
            (idx.TEST_IMAGES, idx.TEST_LABELS, embedded.TEST_PER_CLASS)):
        images = idx.read_idx(paths[images_name], ndim=3)
        labels = idx.read_idx(paths[labels_name], ndim=1)
        keep = embedded.subset_indices(labels, per_class, embedded.SEED)
        idx.write_idx(os.path.join(output_dir, images_name + ".gz"), images[keep])
        idx.write_idx(os.path.join(output_dir, labels_name + ".gz"), labels[keep])


def main(argv):
    del argv
    try:
        if not FLAGS.check:
            build(FLAGS.source_dir, FLAGS.output_dir)
            print(f"wrote {FLAGS.output_dir}")
            return
        with tempfile.TemporaryDirectory() as fresh:
            build(FLAGS.source_dir, fresh)
            names = [n + ".gz" for n in idx.FILES]
            _, mismatch, missing = filecmp.cmpfiles(fresh, FLAGS.output_dir, names, shallow=False)
    except errors.UserError as e:
        sys.exit(f"build_fashion_mnist_mini: error: {e}")
    if mismatch or missing:
        sys.exit(f"build_fashion_mnist_mini: differ: {mismatch + missing}")
    print("identical: " + ", ".join(names))


if __name__ == "__main__":
    app.run(main)
