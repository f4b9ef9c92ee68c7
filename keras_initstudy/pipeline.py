"""tf.data input pipelines whose order depends only on (seed, epoch).

Keras's own shuffling draws from a global random state, so a run resumed at
epoch k would see a different order from an uninterrupted run. Here epoch e's
order is a stateless permutation seeded by (seed, e), and the stream starts at
any epoch: resumed runs replay exactly the batches they would have seen.
"""
import math

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


def train_stream(split: base.Split, batch_size: int, seed: int, first_epoch: int,
                 end_epoch: int) -> tf.data.Dataset:
    """Batches of epochs first_epoch .. end_epoch - 1, one shuffled pass each."""
    images = tf.constant(split.images)
    labels = tf.constant(split.labels)
    n = len(split)

    def one_epoch(epoch):
        return tf.data.Dataset.from_tensor_slices(epoch_order(n, seed, epoch)).batch(batch_size)

    return (tf.data.Dataset.range(first_epoch, end_epoch)
            .flat_map(one_epoch)
            .map(lambda idx: (tf.gather(images, idx), tf.gather(labels, idx)),
                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def eval_batches(split: base.Split, batch_size: int = EVAL_BATCH_SIZE) -> tf.data.Dataset:
    return (tf.data.Dataset.from_tensor_slices((split.images, split.labels))
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))
