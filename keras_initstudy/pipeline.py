"""tf.data input pipelines whose order depends only on (seed, epoch).

Keras's own shuffling draws from a global random state, so a run resumed at
epoch k would see a different order from an uninterrupted run. Here epoch e's
order is a stateless permutation seeded by (seed, e), and the stream starts at
any epoch: resumed runs replay exactly the batches they would have seen.
"""
import math

import numpy as np
import tensorflow as tf

from keras_initstudy.datasets import base

EVAL_BATCH_SIZE = 1024  # evaluation only: the mean loss does not depend on it


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Batches per epoch; the last, partial batch is kept (as Keras's fit does)."""
    return math.ceil(num_examples / batch_size)


def epoch_order(num_examples: int, seed: int, epoch) -> tf.Tensor:
    """The permutation of example indices used in `epoch` (0-based)."""
    return tf.random.experimental.stateless_shuffle(
        tf.range(num_examples, dtype=tf.int64),
        seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]))


PAD = 4  # CIFAR-10 standard augmentation: pad 4, random 32x32 crop, horizontal flip


def augment_one(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Pad by 4 (zeros), crop back to the original size at a random offset, flip
    left-right with probability 1/2; stateless, so it depends only on `seed`."""
    height, width, channels = image.shape
    padded = tf.pad(image, [[PAD, PAD], [PAD, PAD], [0, 0]])
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    cropped = tf.image.stateless_random_crop(padded, [height, width, channels], seed=crop_seed)
    return tf.image.stateless_random_flip_left_right(cropped, seed=flip_seed)


def mixup_batch(images, one_hot, alpha: float, seed):
    """Mixup: lambda ~ Beta(alpha, alpha) per batch; each example mixed with the batch reversed."""
    seed_a, seed_b = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    a = tf.random.stateless_gamma([], seed=seed_a, alpha=alpha)
    b = tf.random.stateless_gamma([], seed=seed_b, alpha=alpha)
    lam = a / (a + b)
    return (lam * images + (1 - lam) * tf.reverse(images, [0]),
            lam * one_hot + (1 - lam) * tf.reverse(one_hot, [0]))


def train_stream(split: base.Split, batch_size: int, seed: int, first_epoch: int, end_epoch: int,
                 augment: bool = False, mixup: float = 0.0, num_classes: int = 0) -> tf.data.Dataset:
    """Batches of epochs first_epoch .. end_epoch - 1, one shuffled pass each.

    `augment` applies augment_one to every example; `mixup` > 0 mixes batches and
    yields one-hot labels (needs num_classes). Their randomness is stateless too,
    seeded by (seed, epoch, example or batch), so resumed runs replay it.
    """
    images = tf.constant(split.images)
    labels = tf.constant(split.labels)
    n = len(split)

    def example_seed(epoch, index):
        return tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64) * (1 << 32) + index])

    def one_epoch(epoch):
        order = tf.data.Dataset.from_tensor_slices(epoch_order(n, seed, epoch))
        if augment:
            examples = order.map(
                lambda i: (augment_one(tf.gather(images, i), example_seed(epoch, i)), tf.gather(labels, i)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            batches = examples.batch(batch_size)
        else:
            batches = order.batch(batch_size).map(
                lambda idx: (tf.gather(images, idx), tf.gather(labels, idx)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if mixup:
            batches = batches.enumerate().map(
                lambda step, batch: mixup_batch(batch[0], tf.one_hot(batch[1], num_classes), mixup,
                                                example_seed(epoch, -1 - step)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return batches

    return tf.data.Dataset.range(first_epoch, end_epoch).flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)


def eval_batches(split: base.Split, batch_size: int = EVAL_BATCH_SIZE, num_classes: int = 0) -> tf.data.Dataset:
    """The test split in order; one-hot labels when num_classes > 0 (runs with mixup)."""
    labels = split.labels if not num_classes else np.eye(num_classes, dtype=np.float32)[split.labels]
    return (tf.data.Dataset.from_tensor_slices((split.images, labels))
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))
