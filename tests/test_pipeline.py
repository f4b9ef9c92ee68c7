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

    def test_without_reshuffle_every_epoch_repeats_epoch_zeros_order(self):
        """Paper 001's released code draws one order and keeps it (--noreshuffle)."""
        fixed = epochs_of(pipeline.train_stream(split(10), 10, 4, 0, 3, reshuffle=False), 10, 10)
        self.assertAllEqual(fixed[1], fixed[0])
        self.assertAllEqual(fixed[2], fixed[0])
        self.assertAllEqual(fixed[0], epochs_of(pipeline.train_stream(split(10), 10, 4, 0, 1), 10, 10)[0])
        late = epochs_of(pipeline.train_stream(split(10), 10, 4, 2, 3, reshuffle=False), 10, 10)
        self.assertAllEqual(late[0], fixed[0])
        stacked = [y.numpy() for _, y in pipeline.stacked_stream(split(10), 10, [4], 0, 2, reshuffle=False)]
        self.assertAllEqual(stacked[1][:, 0], fixed[0])

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
        with self.assertRaisesRegex(ValueError, "^bad step range 5..2$"):
            pipeline.train_stream(split(10), 4, 0, 5, 2)
        with self.assertRaisesRegex(ValueError, "^bad step range -1..2$"):
            pipeline.index_stream(10, 4, 0, -1, 2)
        self.assertEmpty(list(pipeline.train_stream(split(10), 4, 0, 3, 3)))  # an empty range is no error

    def test_index_stream_holds_train_streams_example_indices(self):
        indices = [i.numpy() for i in pipeline.index_stream(10, 4, 7, 2, 8)]
        labels = [y.numpy() for _, y in pipeline.train_stream(split(10), 4, 7, 2, 8)]  # label = index here
        self.assertLen(indices, 6)
        for a, b in zip(indices, labels):
            self.assertAllEqual(a, b)

    def test_stacked_stream_puts_each_seeds_batch_in_its_column(self):
        seeds = (3, 4, 9)
        stacked = list(pipeline.stacked_stream(split(10), 4, seeds, 1, 7))
        self.assertLen(stacked, 6)
        for k, seed in enumerate(seeds):
            single = list(pipeline.train_stream(split(10), 4, seed, 1, 7))
            for (xs, ys), (x, y) in zip(stacked, single):
                self.assertEqual(xs.shape, (len(y), 3, 1, 1, 1))
                self.assertAllEqual(xs[:, k], x)
                self.assertAllEqual(ys[:, k], y)

    def test_eval_batches_are_the_test_split_in_order(self):
        data = split(5)
        batches = list(pipeline.eval_batches(data, batch_size=2))
        self.assertEqual([len(y) for _, y in batches], [2, 2, 1])
        self.assertAllEqual(np.concatenate([y for _, y in batches]), np.arange(5))
        self.assertAllEqual(np.concatenate([x for x, _ in batches]), data.images)
        one_hot = np.concatenate([y for _, y in pipeline.eval_batches(data, num_classes=5)])
        self.assertAllEqual(one_hot, np.eye(5, dtype=np.float32))
        self.assertEqual(one_hot.dtype, np.float32)
        self.assertLen(list(pipeline.eval_batches(split(2048))), 2)  # EVAL_BATCH_SIZE 1024


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
        if padding == "zeros":  # the default
            seed = tf.constant([3, 1], tf.int64)
            self.assertAllEqual(pipeline.augment_one(tf.constant(image), seed),
                                pipeline.augment_one(tf.constant(image), seed, "zeros"))

    def test_a_fill_pads_with_that_value_per_channel_and_leaves_the_image_exact(self):
        """Constant normalisations pad with normalised black (torchvision pads raw pixels, then Normalize)."""
        image = np.random.default_rng(4).random((8, 8, 3), dtype=np.float32)
        fill = np.array([-2.0, -1.5, 0.25], np.float32)
        seen_border = False
        for seed in range(20):
            out = pipeline.augment_one(tf.constant(image), tf.constant([5, seed], tf.int64), "zeros", fill).numpy()
            zeros = pipeline.augment_one(tf.constant(image), tf.constant([5, seed], tf.int64), "zeros").numpy()
            border = np.all(zeros == 0, axis=-1) & np.any(out != 0, axis=-1)
            self.assertAllEqual(out[~border], zeros[~border])  # the image's own pixels, bit for bit
            if border.any():
                seen_border = True
                self.assertAllEqual(out[border], np.broadcast_to(fill, out[border].shape))
        self.assertTrue(seen_border)

    def test_constant_normalisations(self):
        rgb = base.Dataset(base.Split(np.full((2, 2, 2, 3), 0.5, np.float32), np.zeros(2, np.int64)),
                           base.Split(np.zeros((1, 2, 2, 3), np.float32), np.zeros(1, np.int64)),
                           base.DatasetInfo("t", 2, (2, 2, 3), ("a", "b")))
        data = base.normalize_constants(rgb, "imagenet_constants")  # open_lth's CIFAR-10
        mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
        self.assertAllClose(data.train.images[0, 0, 0], (0.5 - mean) / std, rtol=1e-6)
        self.assertAllClose(data.test.images[0, 0, 0], base.padding_fill("imagenet_constants"), rtol=1e-6)
        self.assertIsNone(base.padding_fill("per_channel"))
        gray = base.Dataset(base.Split(np.zeros((2, 2, 2, 1), np.float32), np.zeros(2, np.int64)),
                            base.Split(np.zeros((1, 2, 2, 1), np.float32), np.zeros(1, np.int64)),
                            base.DatasetInfo("g", 2, (2, 2, 1), ("a", "b")))
        with self.assertRaisesRegex(Exception, "is for RGB images; g has 1 channel"):
            base.normalize_constants(gray, "cifar10_constants")
        from keras_initstudy import config
        self.assertEqual(set(config.NORMALIZATIONS) - {"none", "per_channel"}, set(base.CONSTANT_NORMALIZATIONS))

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

    def test_the_stream_draws_each_examples_augmentation_from_seed_epoch_and_index(self):
        """Example i of epoch e is augment_one(image_i, (seed, e * 2**32 + i)): distinct draws
        per example and epoch that a resumed run replays."""
        data = base.Split(images=self.images(4).images, labels=np.arange(4, dtype=np.int64))  # label = index
        for padding in ("zeros", "reflect"):
            stream = list(pipeline.train_stream(data, 4, 5, 0, 2, augment=True, augment_padding=padding))
            for epoch, (x, y) in enumerate(stream):
                for row, index in enumerate(y.numpy()):
                    seed = tf.constant([5, epoch * 2 ** 32 + int(index)], tf.int64)
                    expected = pipeline.augment_one(tf.constant(data.images[index]), seed, padding)
                    self.assertAllEqual(x[row], expected, msg=f"{padding} {epoch} {index}")

    def test_mixup_draws_lambda_from_beta_alpha_alpha(self):
        """lambda = a / (a + b), a, b ~ Gamma(alpha) independent: Beta(alpha, alpha), mean 1/2 and
        variance 1 / (4 (2 alpha + 1)); images and one-hot labels mix with the reversed batch."""
        images = tf.constant(np.arange(4, dtype=np.float32).reshape(4, 1))
        labels = np.eye(3, dtype=np.float32)[[0, 2, 2, 1]]  # reversing rows and reversing columns differ
        lams = []
        for s in range(400):
            x, y = pipeline.mixup_batch(images, tf.constant(labels), 0.4, tf.constant([1, s], tf.int64))
            lam = float(y[0, 0])  # row 0 is class 0 mixed with class 1
            self.assertAllClose(y, lam * labels + (1 - lam) * labels[::-1], atol=1e-6)
            self.assertAllClose(x[:, 0], lam * np.arange(4) + (1 - lam) * np.arange(4)[::-1], atol=1e-5)
            lams.append(lam)
        lams = np.array(lams)
        self.assertTrue(((lams >= 0) & (lams <= 1)).all())
        self.assertNear(lams.mean(), 0.5, 0.05)
        self.assertNear(lams.var(), 1 / (4 * 1.8), 0.03)

    def test_the_streams_mixup_uses_the_batchs_own_seed(self):
        """Batch j of epoch e mixes with seed (seed, e * 2**32 - 1 - j); images and labels alike."""
        data = split(6)  # image value = label = example index
        stream = list(pipeline.train_stream(data, 3, 2, 0, 4, mixup=0.4, num_classes=6))
        plain = list(pipeline.train_stream(data, 3, 2, 0, 4))
        for step, ((x, y), (px, py)) in enumerate(zip(stream, plain)):
            epoch = step // 2
            expected = pipeline.mixup_batch(px, tf.one_hot(py, 6), 0.4,
                                            tf.constant([2, epoch * 2 ** 32 - 1 - step % 2], tf.int64))
            self.assertAllClose(x, expected[0])
            self.assertAllClose(y, expected[1])
        with self.assertRaisesRegex(ValueError, r"^mixup needs num_classes \(its labels are one-hot\)$"):
            pipeline.train_stream(data, 3, 2, 0, 4, mixup=0.4)
        one_class = base.Split(images=data.images, labels=np.zeros(6, np.int64))
        _, y = next(iter(pipeline.train_stream(one_class, 3, 2, 0, 1, mixup=0.4, num_classes=1)))
        self.assertAllClose(y, np.ones((3, 1)))  # any positive number of classes

    def test_mixup_mixes_images_and_one_hot_labels_alike(self):
        split = self.images()
        for x, y in pipeline.train_stream(split, 6, 0, 0, 1, mixup=0.4, num_classes=3):
            self.assertEqual(y.shape, (6, 3))
            self.assertAllClose(tf.reduce_sum(y, axis=1), np.ones(6))
            self.assertEqual(x.shape, (6, 8, 8, 3))


if __name__ == "__main__":
    tf.test.main()
