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
    """The permutation of example indices used in `epoch` (0-based); epoch 0's for every
    epoch when a run does not reshuffle."""
    return tf.random.experimental.stateless_shuffle(
        tf.range(num_examples, dtype=tf.int64),
        seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]))


PAD = 4  # CIFAR-10 standard augmentation: pad 4, random 32x32 crop, horizontal flip
PADDINGS = {"zeros": "CONSTANT", "reflect": "REFLECT"}  # REFLECT omits the edge, as PyTorch's F.pad "reflect"


def augment_one(image: tf.Tensor, seed: tf.Tensor, padding: str = "zeros", fill=None) -> tf.Tensor:
    """Pad by 4 (zeros, or `fill` per channel, or a mirror image of the border as paper 002's
    code does), crop back to the original size at a random offset, flip left-right with
    probability 1/2; stateless, so it depends only on `seed`."""
    height, width, channels = image.shape
    paddings = [[PAD, PAD], [PAD, PAD], [0, 0]]
    if fill is not None and padding == "zeros":  # tf.pad fills with one scalar: add fill x a border mask
        border = tf.pad(tf.zeros_like(image), paddings, constant_values=1.0)
        padded = tf.pad(image, paddings) + border * tf.constant(fill, image.dtype)
    else:
        padded = tf.pad(image, paddings, mode=PADDINGS[padding])
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


def train_stream(split: base.Split, batch_size: int, seed: int, start: int, end: int,
                 augment: bool = False, mixup: float = 0.0, num_classes: int = 0,
                 augment_padding: str = "zeros", reshuffle: bool = True, fill=None) -> tf.data.Dataset:
    """The batches of optimizer steps start .. end - 1 (0-based), one shuffled pass per epoch
    (`reshuffle=False`: every epoch in epoch 0's order); `fill`: augment_one's padding value.

    Step s is batch s % steps_per_epoch of epoch s // steps_per_epoch, so a stream
    started at step k yields exactly the batches an uninterrupted stream yields
    from step k. `augment` applies augment_one to every example; `mixup` > 0 mixes
    batches and yields one-hot labels (needs num_classes). Their randomness is
    stateless too, seeded by (seed, epoch, example or batch), so it is replayed.
    """
    if mixup and num_classes < 1:
        raise ValueError("mixup needs num_classes (its labels are one-hot)")
    images = tf.constant(split.images)
    labels = tf.constant(split.labels)

    def example_seed(epoch, index):
        return tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64) * (1 << 32) + index])

    def one_epoch(epoch, skip, order):
        if augment:
            examples = order.map(
                lambda i: (augment_one(tf.gather(images, i), example_seed(epoch, i), augment_padding, fill),
                           tf.gather(labels, i)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            batches = examples.batch(batch_size)
        else:
            batches = order.batch(batch_size).map(
                lambda idx: (tf.gather(images, idx), tf.gather(labels, idx)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if mixup:
            batches = batches.enumerate(start=skip).map(
                lambda step, batch: mixup_batch(batch[0], tf.one_hot(batch[1], num_classes), mixup,
                                                example_seed(epoch, -1 - step)),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return batches

    return _epochs(len(split), batch_size, seed, start, end, one_epoch, reshuffle).prefetch(tf.data.AUTOTUNE)


def _epochs(num_examples: int, batch_size: int, seed: int, start: int, end: int, one_epoch,
            reshuffle: bool = True) -> tf.data.Dataset:
    """Steps start .. end - 1 as the epochs they lie in: one_epoch(epoch, skip, order) makes
    an epoch's batches from its example order, whose first `skip` batches (> 0 only in the
    epoch the stream starts in) are already dropped."""
    if not 0 <= start <= end:
        raise ValueError(f"bad step range {start}..{end}")
    per_epoch = steps_per_epoch(num_examples, batch_size)

    def epoch_batches(epoch):
        skip = tf.maximum(tf.cast(start, tf.int64) - epoch * per_epoch, 0)
        order = tf.data.Dataset.from_tensor_slices(
            epoch_order(num_examples, seed, epoch if reshuffle else 0)).skip(skip * batch_size)
        return one_epoch(epoch, skip, order)

    first_epoch, last_epoch = start // per_epoch, -(-end // per_epoch)
    return tf.data.Dataset.range(first_epoch, last_epoch).flat_map(epoch_batches).take(end - start)


def index_stream(num_examples: int, batch_size: int, seed: int, start: int, end: int,
                 reshuffle: bool = True) -> tf.data.Dataset:
    """The example indices of train_stream's batches (no augmentation or mixup): steps start .. end - 1."""
    return _epochs(num_examples, batch_size, seed, start, end, lambda epoch, skip, order: order.batch(batch_size),
                   reshuffle)


def stacked_stream(split: base.Split, batch_size: int, seeds, start: int, end: int,
                   reshuffle: bool = True) -> tf.data.Dataset:
    """Steps start .. end - 1 of one train_stream per data seed, side by side: images
    (batch, K, ...) and labels (batch, K), member k's column being exactly its own
    stream's batch. One gather serves all K (seed ensembles, ensemble/runner.py)."""
    images, labels = tf.constant(split.images), tf.constant(split.labels)
    orders = tuple(index_stream(len(split), batch_size, s, start, end, reshuffle) for s in seeds)

    def gather(*indices):
        chosen = tf.stack(indices, axis=1)
        return tf.gather(images, chosen), tf.gather(labels, chosen)

    return (tf.data.Dataset.zip(orders).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def eval_batches(split: base.Split, batch_size: int = EVAL_BATCH_SIZE, num_classes: int = 0) -> tf.data.Dataset:
    """The test split in order; one-hot labels when num_classes > 0 (runs with mixup)."""
    labels = split.labels if not num_classes else np.eye(num_classes, dtype=np.float32)[split.labels]
    return (tf.data.Dataset.from_tensor_slices((split.images, labels))
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))
