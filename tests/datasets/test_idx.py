"""The idx reader on files the test writes, including corrupt ones."""
import gzip
import os
import struct

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import errors
from keras_initstudy.datasets import base, idx


def write_raw(path, payload: bytes):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


def images_header(n, h, w):
    return struct.pack(">HBBIII", 0, 8, 3, n, h, w)


def labels_header(n):
    return struct.pack(">HBBI", 0, 8, 1, n)


class ReadIdxTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(".gz", "")
    def test_reads_what_the_format_says(self, suffix):
        pixels = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
        path = os.path.join(self.get_temp_dir(), "images" + suffix)
        write_raw(path, images_header(2, 3, 4) + pixels.tobytes())
        self.assertAllEqual(idx.read_idx(path, ndim=3), pixels)

    def test_write_idx_round_trips_and_is_reproducible(self):
        array = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
        a = os.path.join(self.get_temp_dir(), "a.gz")
        b = os.path.join(self.get_temp_dir(), "b.gz")
        idx.write_idx(a, array)
        idx.write_idx(b, array)
        self.assertAllEqual(idx.read_idx(a, ndim=3), array)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_bad_magic_names_the_file(self):
        path = os.path.join(self.get_temp_dir(), "labels.gz")
        write_raw(path, images_header(1, 1, 1) + b"\x00")  # an image file where labels belong
        with self.assertRaisesRegex(errors.DataError, "labels.gz: bad magic number 0x00000803"):
            idx.read_idx(path, ndim=1)

    def test_truncated_payload_names_the_file(self):
        path = os.path.join(self.get_temp_dir(), "short.gz")
        write_raw(path, labels_header(10) + b"\x01" * 7)
        with self.assertRaisesRegex(errors.DataError, "short.gz: truncated.*needs 10 bytes.*found 7"):
            idx.read_idx(path, ndim=1)

    def test_truncated_gzip_stream_names_the_file(self):
        path = os.path.join(self.get_temp_dir(), "cut.gz")
        write_raw(path, labels_header(1000) + b"\x01" * 1000)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        with self.assertRaisesRegex(errors.DataError, "cut.gz: cannot read"):
            idx.read_idx(path, ndim=1)

    def test_not_gzip_at_all(self):
        path = os.path.join(self.get_temp_dir(), "text.gz")
        with open(path, "wb") as f:
            f.write(b"hello, not gzip")
        with self.assertRaisesRegex(errors.DataError, "text.gz: cannot read"):
            idx.read_idx(path, ndim=1)


class IdxDatasetTest(tf.test.TestCase):

    def write_dataset(self, folder, n_train=6, n_test=4, n_test_labels=None):
        rng = np.random.default_rng(1)
        files = {
            idx.TRAIN_IMAGES: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
            idx.TRAIN_LABELS: np.arange(n_train, dtype=np.uint8) % 10,
            idx.TEST_IMAGES: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
            idx.TEST_LABELS: np.arange(n_test_labels or n_test, dtype=np.uint8) % 10,
        }
        for name, array in files.items():
            idx.write_idx(os.path.join(folder, name + ".gz"), array)
        return files

    def test_fashion_mnist_from_data_dir(self):
        folder = self.get_temp_dir()
        files = self.write_dataset(folder)
        data = base.load("fashion_mnist", folder, download=False)
        self.assertEqual(data.train.images.shape, (6, 28, 28, 1))
        self.assertEqual(data.train.images.dtype, np.float32)
        self.assertAllClose(data.train.images[..., 0], files[idx.TRAIN_IMAGES] / 255.0)
        self.assertAllEqual(data.test.labels, files[idx.TEST_LABELS])
        self.assertEqual(data.info.num_classes, 10)
        self.assertEqual(data.info.input_shape, (28, 28, 1))
        self.assertEqual(data.info.class_names[9], "Ankle boot")

    def test_mnist_class_names_are_digits(self):
        folder = self.get_temp_dir()
        self.write_dataset(folder)
        self.assertEqual(base.load("mnist", folder, download=False).info.class_names[3], "3")

    def test_images_and_labels_must_agree_in_count(self):
        folder = self.get_temp_dir()
        self.write_dataset(folder, n_test=4, n_test_labels=3)
        with self.assertRaisesRegex(errors.DataError, "4 images but .*3 labels"):
            base.load("mnist", folder, download=False)

    def test_missing_files_without_download_is_a_user_error(self):
        with self.assertRaisesRegex(errors.DataError, "could not load mnist.*download disabled"):
            base.load("mnist", self.get_temp_dir(), download=False)


class RegistryTest(tf.test.TestCase):

    def test_unknown_name_lists_valid_names(self):
        with self.assertRaisesRegex(errors.UserError, "unknown dataset 'nope'; valid names: .*fashion_mnist_mini.*hasyv2"):
            base.load("nope")

    def test_duplicate_registration_fails_loudly(self):
        with self.assertRaisesRegex(ValueError, "registered twice"):
            base.register("mnist")(lambda data_dir, download: None)


if __name__ == "__main__":
    tf.test.main()
