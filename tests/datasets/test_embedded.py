"""fashion_mnist_mini: the embedded default's shape, balance, content and rebuild rule."""
import hashlib
import os

import numpy as np
import tensorflow as tf

from keras_initstudy.datasets import base, embedded, idx

# SHA-256 of the decoded uint8 arrays (not of the .gz bytes, which depend on zlib).
PINNED = {
    idx.TRAIN_IMAGES: "6f516b5c715f5ed2676055c39cc63bb3d669eaea17aa4e35fab14a9196f2a833",
    idx.TRAIN_LABELS: "9ba7fcaf8dba29f6ca97fdf3cff82c38a262701108e10e2dd9211f2bde7a5734",
    idx.TEST_IMAGES: "14808f60ca4e894ca5eba66c40db1bb20308ecbbd9813f8027daf045ee0fc6b0",
    idx.TEST_LABELS: "dc382c92f6131816ff2c5fa5c142f83ca74b5d4e46d5a495205228104828a8bd",
}


class EmbeddedTest(tf.test.TestCase):

    def test_shapes_and_class_balance(self):
        data = base.load("fashion_mnist_mini")
        self.assertEqual(data.train.images.shape, (6000, 28, 28, 1))
        self.assertEqual(data.test.images.shape, (1000, 28, 28, 1))
        self.assertAllEqual(np.bincount(data.train.labels), [600] * 10)
        self.assertAllEqual(np.bincount(data.test.labels), [100] * 10)
        self.assertBetween(float(data.train.images.min()), 0.0, 0.0)
        self.assertBetween(float(data.train.images.max()), 1.0, 1.0)
        self.assertEqual(data.info.class_names[0], "T-shirt/top")

    def test_shipped_files_match_pinned_checksums(self):
        for name, digest in PINNED.items():
            array = idx.read_idx(os.path.join(embedded.DATA_DIR, name + ".gz"),
                                 ndim=3 if "images" in name else 1)
            self.assertEqual(hashlib.sha256(array.tobytes()).hexdigest(), digest, name)

    def test_licence_notice_ships_with_the_data(self):
        with open(os.path.join(embedded.DATA_DIR, "LICENSE")) as f:
            text = f.read()
        self.assertIn("Zalando SE", text)
        self.assertIn("MIT", text)

    def test_subset_indices_are_stratified_seeded_and_sorted(self):
        labels = np.repeat(np.arange(3), [50, 40, 30])
        chosen = embedded.subset_indices(labels, per_class=10, seed=7)
        self.assertAllEqual(np.bincount(labels[chosen]), [10, 10, 10])
        self.assertAllEqual(chosen, np.sort(chosen))
        self.assertLen(np.unique(chosen), 30)
        self.assertAllEqual(chosen, embedded.subset_indices(labels, per_class=10, seed=7))
        self.assertNotAllEqual(chosen, embedded.subset_indices(labels, per_class=10, seed=8))

    def test_subset_of_a_too_small_class_fails(self):
        with self.assertRaisesRegex(ValueError, "fewer than 10"):
            embedded.subset_indices(np.array([0] * 5 + [1] * 20), per_class=10, seed=0)


if __name__ == "__main__":
    tf.test.main()
