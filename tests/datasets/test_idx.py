"""The idx reader on files the test writes, including corrupt ones."""
import gzip
import os
import socket
import struct
from unittest import mock

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

    def message(self, path, ndim):
        with self.assertRaises(errors.DataError) as raised:
            idx.read_idx(path, ndim=ndim)
        return str(raised.exception)

    def test_header_shorter_than_its_dimensions(self):
        path = os.path.join(self.get_temp_dir(), "head")
        write_raw(path, struct.pack(">HBB", 0, 8, 3) + b"\x00" * 11)
        self.assertEqual(self.message(path, 3), f"{path}: truncated: the header needs 16 bytes, the file has 15")

    def test_a_header_alone_is_an_empty_file(self):
        path = os.path.join(self.get_temp_dir(), "empty")
        write_raw(path, labels_header(0))  # exactly the 8 header bytes
        self.assertEqual(idx.read_idx(path, ndim=1).shape, (0,))

    @parameterized.named_parameters(
        ("signed_bytes", struct.pack(">HBBI", 0, 0x09, 1, 1), "0x00000901"),  # the type code is checked
        ("floats", struct.pack(">HBBI", 0, 0x0D, 1, 1), "0x00000d01"),
        ("nonzero_first_bytes", struct.pack(">HBBI", 0x8000, 0x08, 1, 1), "0x80000801"),
        ("wrong_rank", struct.pack(">HBBII", 0, 0x08, 2, 1, 1), "0x00000802"))
    def test_bad_magic_number(self, header, magic):
        path = os.path.join(self.get_temp_dir(), "labels")
        write_raw(path, header + b"\x00")
        self.assertEqual(self.message(path, 1),
                         f"{path}: bad magic number {magic}, expected 0x00000801 (1-d unsigned bytes)")

    def test_payload_too_long(self):
        path = os.path.join(self.get_temp_dir(), "long")
        write_raw(path, labels_header(3) + b"\x01" * 5)
        self.assertEqual(self.message(path, 1),
                         f"{path}: too long: header shape (3,) needs 3 bytes of data, found 5")

    def test_dimensions_are_unsigned(self):
        path = os.path.join(self.get_temp_dir(), "huge")
        write_raw(path, labels_header(2 ** 31) + b"\x01")
        self.assertEqual(self.message(path, 1),
                         f"{path}: truncated: header shape (2147483648,) needs 2147483648 bytes of data, found 1")

    def test_bad_magic_names_the_file(self):
        path = os.path.join(self.get_temp_dir(), "labels.gz")
        write_raw(path, images_header(1, 1, 1) + b"\x00")  # an image file where labels belong
        with self.assertRaisesRegex(errors.DataError, "labels.gz: bad magic number 0x00000803"):
            idx.read_idx(path, ndim=1)

    @parameterized.parameters(".gz", "")
    def test_write_idx_converts_to_bytes_and_writes_plain_or_gzip(self, suffix):
        path = os.path.join(self.get_temp_dir(), "w" + suffix)
        idx.write_idx(path, np.array([[1, 2, 255]], dtype=np.int64))
        self.assertAllEqual(idx.read_idx(path, ndim=2), [[1, 2, 255]])
        with open(path, "rb") as f:
            raw = f.read()
        if suffix:  # gzip header: deflate, no flags (no file name), mtime 0, level 9 (XFL 2), OS 255
            self.assertEqual(raw[:10], b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
        else:
            self.assertEqual(raw, struct.pack(">HBBII", 0, 8, 2, 1, 3) + bytes([1, 2, 255]))

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

    def test_labels_must_be_below_the_number_of_classes(self):
        folder = self.get_temp_dir()
        files = self.write_dataset(folder)
        labels = os.path.join(folder, idx.TEST_LABELS + ".gz")
        idx.write_idx(labels, np.array([0, 9, 10, 3], dtype=np.uint8))
        with self.assertRaises(errors.DataError) as raised:
            base.load("mnist", folder, download=False)
        self.assertEqual(str(raised.exception), f"{labels}: label 10 is not below 10")
        idx.write_idx(labels, files[idx.TEST_LABELS])
        self.assertEqual(base.load("mnist", folder, download=False).info.name, "mnist")

    def test_plain_files_are_found_too(self):
        folder = self.get_temp_dir()
        for name, array in self.write_dataset(folder).items():
            os.remove(os.path.join(folder, name + ".gz"))
            idx.write_idx(os.path.join(folder, name), array)
        self.assertEqual(idx.find_files(folder)[idx.TRAIN_LABELS], os.path.join(folder, idx.TRAIN_LABELS))
        self.assertEqual(base.load("fashion_mnist", folder, download=False).info.name, "fashion_mnist")

    def test_load_idx_dir_without_the_files(self):
        folder = self.get_temp_dir()
        with self.assertRaises(errors.DataError) as raised:
            idx.load_idx_dir(folder, "mnist", idx.MNIST_CLASSES)
        self.assertEqual(str(raised.exception), f"{folder} does not hold the four idx files "
                         "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                         "t10k-labels-idx1-ubyte (.gz)")

    def test_without_idx_files_tfds_is_asked(self):
        folder = self.get_temp_dir()
        idx.write_idx(os.path.join(folder, idx.TRAIN_IMAGES + ".gz"), np.zeros((2, 28, 28)))
        with mock.patch.object(idx.tfds_source, "load", return_value="loaded") as load:
            self.assertEqual(idx.load_fashion_mnist(folder, True), "loaded")
        load.assert_called_once_with(
            "fashion_mnist", idx.FASHION_MNIST_CLASSES, folder, True,
            missing=[idx.TRAIN_LABELS, idx.TEST_IMAGES, idx.TEST_LABELS], what=" (.gz or not)")

    def test_missing_files_without_download_say_which_and_where_at_once(self):
        """Issue 24.3: no download is tried for a --data_dir without the files, unless asked;
        the one line names the missing files and the folder, and nothing is created."""
        folder = os.path.join(self.get_temp_dir(), "misspelt")
        with mock.patch.object(idx.tfds_source, "bounded_download", side_effect=AssertionError("no download")):
            with self.assertRaises(errors.DataError) as raised:
                base.load("mnist", folder, download=False)
        self.assertEqual(str(raised.exception),
                         f"mnist: {folder} (no such folder) lacks train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                         "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (.gz or not), and holds no TensorFlow "
                         f"Datasets copy ({folder}/mnist); put the files there, or add --download to fetch mnist")
        self.assertFalse(os.path.exists(folder))
        os.makedirs(folder)
        idx.write_idx(os.path.join(folder, idx.TEST_LABELS), np.zeros(2))
        with self.assertRaisesRegex(errors.DataError, f"^mnist: {folder} lacks train-images-idx3-ubyte, "
                                                      r"train-labels-idx1-ubyte, t10k-images-idx3-ubyte \(.gz or not"):
            base.load("mnist", folder, download=False)

    def test_a_failed_download_is_bounded_and_leaves_no_folder(self):
        from tensorflow_datasets.core.download import downloader
        folder = os.path.join(self.get_temp_dir(), "fresh")
        seen = {}

        def offline(*args, **kwargs):
            seen.update(retries=downloader.MAX_RETRIES, timeout=socket.getdefaulttimeout())
            os.makedirs(os.path.join(folder, "downloads", "mnist"))  # as TFDS does before it fails
            raise ConnectionError("HTTPConnectionPool(host='example.invalid', port=443): Max retries exceeded "
                                  "(Caused by NameResolutionError(\"Failed to resolve 'example.invalid'\"))")

        with mock.patch("tensorflow_datasets.load", side_effect=offline):
            with self.assertRaises(errors.DataError) as raised:
                base.load("mnist", folder, download=True)
        self.assertEqual(seen, dict(retries=idx.tfds_source.DOWNLOAD_RETRIES,
                                    timeout=idx.tfds_source.DOWNLOAD_TIMEOUT_S))
        self.assertIn(f"(download tried into {folder}): cannot resolve example.invalid (offline?); or put "
                      "train-images-idx3-ubyte", str(raised.exception))
        self.assertFalse(os.path.exists(folder))
        self.assertEqual(downloader.MAX_RETRIES, 10)  # TFDS's own settings are back
        self.assertIsNone(socket.getdefaulttimeout())


class RegistryTest(tf.test.TestCase):

    def test_unknown_name_lists_valid_names(self):
        with self.assertRaisesRegex(errors.UserError, "unknown dataset 'nope'; valid names: .*fashion_mnist_mini.*hasyv2"):
            base.load("nope")

    def test_duplicate_registration_fails_loudly(self):
        with self.assertRaisesRegex(ValueError, "registered twice"):
            base.register("mnist")(lambda data_dir, download: None)


if __name__ == "__main__":
    tf.test.main()
