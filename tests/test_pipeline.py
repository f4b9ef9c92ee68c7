"""The training stream: one permutation per epoch, a function of (seed, epoch) only,
startable at any optimizer step."""
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import pipeline
from keras_initstudy.datasets import base


def split(n):
    return base.Split(images=np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1),
                      labels=np.arange(n, dtype=np.int64))


def epochs_of(stream, n, batch_size):
    labels = np.concatenate([y.numpy() for _, y in stream])
    return labels.reshape(-1, n) if len(labels) % n == 0 else labels


class PipelineTest(tf.test.TestCase):

    def test_each_epoch_is_a_permutation_in_batches_with_a_partial_last(self):
        stream = pipeline.train_stream(split(10), batch_size=4, seed=0, start=0, end=9)
        sizes = [len(y) for _, y in stream]
        self.assertEqual(sizes, [4, 4, 2] * 3)
        self.assertEqual(pipeline.steps_per_epoch(10, 4), 3)
        orders = epochs_of(pipeline.train_stream(split(10), 4, 0, 0, 9), 10, 4)
        for order in orders:
            self.assertAllEqual(np.sort(order), np.arange(10))
        self.assertNotAllEqual(orders[0], orders[1])

    def test_images_follow_labels(self):
        for x, y in pipeline.train_stream(split(10), 3, 5, 0, 1):
            self.assertAllEqual(x.numpy().reshape(-1), y.numpy())

    def test_starting_late_replays_the_same_epochs(self):
        full = epochs_of(pipeline.train_stream(split(12), 5, 3, 0, 12), 12, 5)  # 3 steps per epoch
        late = epochs_of(pipeline.train_stream(split(12), 5, 3, 6, 12), 12, 5)
        self.assertAllEqual(full[2:], late)

    def test_seed_changes_the_order(self):
        a = epochs_of(pipeline.train_stream(split(50), 50, 1, 0, 1), 50, 50)
        b = epochs_of(pipeline.train_stream(split(50), 50, 2, 0, 1), 50, 50)
        self.assertNotAllEqual(a, b)


class MidEpochStartTest(tf.test.TestCase):
    """A stream started at step k yields exactly the batches of an uninterrupted stream from k."""

    def batches(self, split, start, end, **kw):
        return [(x.numpy(), y.numpy()) for x, y in pipeline.train_stream(split, 4, 7, start, end, **kw)]

    def assert_same_tail(self, split, **kw):
        full = self.batches(split, 0, 11, **kw)  # 10 examples, batch 4: 3 steps per epoch, a partial last
        for k in range(0, 11):
            with self.subTest(start=k):
                late = self.batches(split, k, 11, **kw)
                self.assertLen(late, 11 - k)
                for (xa, ya), (xb, yb) in zip(full[k:], late):
                    self.assertAllEqual(xa, xb)
                    self.assertAllEqual(ya, yb)

    def test_plain(self):
        self.assert_same_tail(split(10))

    def test_augmented_and_mixed(self):
        images = base.Split(images=np.random.default_rng(0).random((10, 8, 8, 3), dtype=np.float32),
                            labels=np.arange(10, dtype=np.int64) % 3)
        self.assert_same_tail(images, augment=True)
        self.assert_same_tail(images, mixup=0.4, num_classes=3)

    def test_ends_mid_epoch(self):
        self.assertEqual([len(y) for _, y in pipeline.train_stream(split(10), 4, 0, 2, 5)], [2, 4, 4])

    def test_bad_range(self):
        with self.assertRaises(ValueError):
            pipeline.train_stream(split(10), 4, 0, 5, 2)


class AugmentAndMixupTest(tf.test.TestCase, parameterized.TestCase):

    def images(self, n=6):
        return base.Split(images=np.random.default_rng(0).random((n, 8, 8, 3), dtype=np.float32),
                          labels=np.arange(n, dtype=np.int64) % 3)

    def test_augment_keeps_shape_is_reproducible_and_changes_images(self):
        split = self.images()
        a = [x.numpy() for x, _ in pipeline.train_stream(split, 6, 1, 0, 2, augment=True)]
        b = [x.numpy() for x, _ in pipeline.train_stream(split, 6, 1, 0, 2, augment=True)]
        self.assertEqual(a[0].shape, (6, 8, 8, 3))
        self.assertAllEqual(a[0], b[0])
        self.assertAllEqual(a[1], b[1])
        late = [x.numpy() for x, _ in pipeline.train_stream(split, 6, 1, 1, 2, augment=True)]
        self.assertAllEqual(late[0], a[1])  # a resumed run replays epoch 1's augmentation
        plain = [x.numpy() for x, _ in pipeline.train_stream(split, 6, 1, 0, 1)][0]
        self.assertNotAllEqual(a[0], plain)

    @parameterized.parameters(("zeros", "constant"), ("reflect", "reflect"))
    def test_augment_is_a_shifted_and_maybe_flipped_copy(self, padding, numpy_mode):
        """zeros: torchvision's RandomCrop(padding=4); reflect: paper 002's F.pad(mode='reflect'),
        which mirrors without repeating the edge (numpy's 'reflect')."""
        image = np.random.default_rng(2).random((8, 8, 1), dtype=np.float32)
        padded = np.pad(image, ((4, 4), (4, 4), (0, 0)), mode=numpy_mode)
        candidates = [padded[i:i + 8, j:j + 8] for i in range(9) for j in range(9)]
        candidates += [c[:, ::-1] for c in candidates]
        corners = 0
        for seed in range(40):
            out = pipeline.augment_one(tf.constant(image), tf.constant([3, seed], tf.int64), padding).numpy()
            self.assertTrue(any(np.array_equal(out, c) for c in candidates), msg=seed)
            corners += int(np.array_equal(out, candidates[0]) or np.array_equal(out, candidates[81]))
        self.assertLess(corners, 40)

    def test_per_channel_normalisation_uses_the_training_split(self):
        rng = np.random.default_rng(3)
        scale = np.array([0.1, 0.2, 0.3], np.float32)
        train = base.Split(images=(rng.random((50, 4, 4, 3)) * scale).astype(np.float32), labels=np.zeros(50, np.int64))
        test = base.Split(images=np.full((5, 4, 4, 3), 0.5, np.float32), labels=np.zeros(5, np.int64))
        data = base.normalize_channels(base.Dataset(train, test, base.DatasetInfo("t", 2, (4, 4, 3), ("a", "b"))))
        flat = data.train.images.reshape(-1, 3).astype(np.float64)
        self.assertAllClose(flat.mean(axis=0), np.zeros(3), atol=1e-6)
        self.assertAllClose(flat.std(axis=0), np.ones(3), atol=1e-5)
        raw = train.images.reshape(-1, 3).astype(np.float64)
        self.assertAllClose(data.test.images[0, 0, 0], (0.5 - raw.mean(axis=0)) / raw.std(axis=0), rtol=1e-5)

    def test_mixup_mixes_images_and_one_hot_labels_alike(self):
        split = self.images()
        for x, y in pipeline.train_stream(split, 6, 0, 0, 1, mixup=0.4, num_classes=3):
            self.assertEqual(y.shape, (6, 3))
            self.assertAllClose(tf.reduce_sum(y, axis=1), np.ones(6))
            self.assertEqual(x.shape, (6, 8, 8, 3))


if __name__ == "__main__":
    tf.test.main()
