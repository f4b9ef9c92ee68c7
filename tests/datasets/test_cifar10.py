"""The CIFAR-10 batch reader on pickled batches the test writes."""
import os
import pickle

import numpy as np
import tensorflow as tf

from keras_initstudy import errors
from keras_initstudy.datasets import base, cifar10


def write_batch(path, data, labels):
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"test", b"data": data, b"labels": labels,
                     b"filenames": [b"x.png"] * len(labels)}, f, protocol=2)


class Cifar10Test(tf.test.TestCase):

    def write_all(self, folder, per_batch=3):
        rng = np.random.default_rng(0)
        os.makedirs(folder, exist_ok=True)
        batches = {}
        for name in cifar10.TRAIN_BATCHES + (cifar10.TEST_BATCH,):
            data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
            labels = list(rng.integers(0, 10, size=per_batch))
            labels = [int(v) for v in labels]
            write_batch(os.path.join(folder, name), data, labels)
            batches[name] = (data, labels)
        return batches

    def test_reads_channel_major_rows_as_hwc_images(self):
        folder = os.path.join(self.get_temp_dir(), "cifar-10-batches-py")
        batches = self.write_all(folder)
        data = base.load("cifar10", self.get_temp_dir(), download=False)
        self.assertEqual(data.train.images.shape, (15, 32, 32, 3))
        self.assertEqual(data.test.images.shape, (3, 32, 32, 3))
        raw, labels = batches[cifar10.TEST_BATCH]
        # Row layout: 1024 red values, then green, then blue, each row-major over 32x32.
        self.assertAllClose(data.test.images[1, 0, 1, 0], raw[1, 1] / 255.0)
        self.assertAllClose(data.test.images[1, 2, 5, 1], raw[1, 1024 + 2 * 32 + 5] / 255.0)
        self.assertAllClose(data.test.images[2, 31, 31, 2], raw[2, 3071] / 255.0)
        self.assertAllEqual(data.test.labels, labels)
        self.assertEqual(data.info.class_names[0], "airplane")

    def test_missing_batch_is_named(self):
        folder = self.get_temp_dir()
        self.write_all(folder)
        os.remove(os.path.join(folder, "data_batch_3"))
        with self.assertRaisesRegex(errors.DataError, "missing CIFAR-10 batches data_batch_3"):
            base.load("cifar10", folder, download=False)

    def test_truncated_batch_is_named(self):
        folder = self.get_temp_dir()
        self.write_all(folder)
        path = os.path.join(folder, "data_batch_2")
        with open(path, "rb") as f:
            content = f.read()
        with open(path, "wb") as f:
            f.write(content[:100])
        with self.assertRaisesRegex(errors.DataError, "data_batch_2: not a readable CIFAR-10 batch"):
            base.load("cifar10", folder, download=False)

    def test_wrong_row_size_is_named(self):
        path = os.path.join(self.get_temp_dir(), "test_batch")
        write_batch(path, np.zeros((2, 100), np.uint8), [0, 1])
        with self.assertRaisesRegex(errors.DataError, r"test_batch: data has shape \(2, 100\)"):
            cifar10.read_batch(path)

    def test_refuses_pickles_that_would_run_code(self):
        path = os.path.join(self.get_temp_dir(), "evil")
        with open(path, "wb") as f:
            pickle.dump({b"data": os.system}, f, protocol=2)
        with self.assertRaisesRegex(errors.DataError, "is not allowed"):
            cifar10.read_batch(path)


if __name__ == "__main__":
    tf.test.main()
