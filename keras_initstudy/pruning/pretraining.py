"""Pre-training on altered data before IMP (paper 004 §6, the abstract's data-dependence results).

The dense network (or, with sparse pre-training, each round's pruned one) first trains
for --pretrain_length on a changed task; IMP then starts from, and rewinds to, the end
of that pre-training. The tasks change the data only. --pretrain_protocol=open_lth
(paper 004's code, the default):

    random_labels  the images, each with a label drawn uniformly (seeded): no label information
    blur           each image downsampled by --pretrain_blur_factor (area) and upsampled
                   back (bilinear): same shape and value range, less detail
    rotation       self-supervised: each image gets one seeded label 0..3 and is rotated by
                   label x 90 degrees; the output layer is kept (its first 4 units learn it)

and the main training then starts at step = --pretrain_length (open_lth's
train_start_step, its schedule fast-forwarded) and ends where it would have.
--pretrain_protocol=package: random_labels permutes the labels; rotation shows every
image at 0, 90, 180 and 270 degrees with a 4-way output layer, dropped afterwards for
the real task's w(0) head; the main training runs its full length from step 0.

    <run_dir>/pretrain/ (or round-NN/pretrain/ with sparse pre-training): task.json,
    history.csv, tb/, checkpoint/, final.npz (every weight after pre-training), DONE
"""
import dataclasses

import numpy as np
import tensorflow as tf

from keras_initstudy import errors, pipeline, rundir, seeds, steps, training
from keras_initstudy.callbacks.snapshots import variable_name, weights_by_path
from keras_initstudy.datasets.base import Dataset, Split
from keras_initstudy.pruning import masks as masks_lib

ROTATIONS = 4


def random_labels(split: Split, seed: int) -> Split:
    """The same images, their labels permuted by a seeded permutation (protocol package)."""
    order = np.random.default_rng(seed).permutation(len(split))
    return Split(images=split.images, labels=split.labels[order])


def uniform_labels(split: Split, seed: int, num_classes: int) -> Split:
    """The same images, each with a label drawn uniformly from the classes (open_lth's random labels)."""
    labels = np.random.default_rng(seed).integers(num_classes, size=len(split)).astype(split.labels.dtype)
    return Split(images=split.images, labels=labels)


def one_rotation(split: Split, seed: int) -> Split:
    """Each image rotated by k quarter turns (counter-clockwise), k ~ U{0..3} seeded, and labelled k
    (open_lth's rotation task: one rotation per image)."""
    turns = np.random.default_rng(seed).integers(ROTATIONS, size=len(split))
    images = np.empty_like(split.images)
    for k in range(ROTATIONS):
        images[turns == k] = np.rot90(split.images[turns == k], k, axes=(1, 2))
    return Split(images=images, labels=turns.astype(np.int64))


def blur(split: Split, factor: int) -> Split:
    """Downsample by `factor` (area averaging) and upsample back (bilinear). Both are
    averages of neighbouring pixels, so the values stay within the images' own range:
    normalised images (--normalize) keep their negative values."""
    height, width = split.images.shape[1:3]
    small = (max(1, height // factor), max(1, width // factor))
    blurred = np.empty_like(split.images)
    for a in range(0, len(split), 4096):  # in chunks: resize materialises float copies
        shrunk = tf.image.resize(split.images[a:a + 4096], small, method="area")
        blurred[a:a + 4096] = tf.image.resize(shrunk, (height, width), method="bilinear").numpy()
    return Split(images=blurred, labels=split.labels)


def rotations(split: Split) -> Split:
    """Every image rotated by 0, 90, 180 and 270 degrees (counter-clockwise), labelled
    by the number of quarter turns; example i's rotations are rows 4i .. 4i + 3."""
    images = np.stack([np.rot90(split.images, k, axes=(1, 2)) for k in range(ROTATIONS)], axis=1)
    labels = np.tile(np.arange(ROTATIONS, dtype=np.int64), len(split))
    return Split(images=images.reshape(-1, *split.images.shape[1:]), labels=labels)


def altered(data: Dataset, task: str, seed: int, blur_factor: int, protocol: str = "open_lth") -> Dataset:
    """The pre-training task's dataset (train and test splits changed alike)."""
    open_lth = protocol == "open_lth"
    if task == "random_labels":
        if open_lth:
            return Dataset(uniform_labels(data.train, seed, data.info.num_classes),
                           uniform_labels(data.test, seed + 1, data.info.num_classes), data.info)
        return Dataset(random_labels(data.train, seed), random_labels(data.test, seed + 1), data.info)
    if task == "blur":
        return Dataset(blur(data.train, blur_factor), blur(data.test, blur_factor), data.info)
    if task == "rotation":
        if data.info.input_shape[0] != data.info.input_shape[1]:
            raise ValueError("rotation pre-training needs square images")
        if open_lth:
            check_task(task, protocol, data.info)
            return Dataset(one_rotation(data.train, seed), one_rotation(data.test, seed + 1), data.info)
        info = dataclasses.replace(data.info, num_classes=ROTATIONS,
                                   class_names=tuple(f"{90 * k} degrees" for k in range(ROTATIONS)))
        return Dataset(rotations(data.train), rotations(data.test), info)
    raise ValueError(f"unknown pre-training task {task!r}")


def check_task(task: str, protocol: str, info) -> None:
    """Refuses, in one line before anything trains, a task the dataset cannot give: open_lth's
    rotation keeps the output layer, whose first four units must then exist."""
    if task == "rotation" and protocol == "open_lth" and info.num_classes < ROTATIONS:
        raise errors.UserError(f"--pretrain=rotation keeps the output layer (--pretrain_protocol=open_lth): it "
                               f"needs at least {ROTATIONS} classes, {info.name} has {info.num_classes}")


def load_pretrained(spec, values: dict, keep_output: bool) -> None:
    """Sets the model's weights from pre-training; the output layer's only when the tasks
    share it (not after rotation, whose 4-way head is replaced by w(0)'s real head)."""
    for variable in spec.model.weights:
        name = variable_name(spec.model, variable)
        if name.startswith(spec.output + "/") and not keep_output:
            continue
        if name in values:
            variable.assign(values[name])


def pretrain(cfg, directory: str, spec, masks: masks_lib.Masks, data: Dataset, verbose: int) -> None:
    """Pre-trains a copy of `spec`'s network (same w(0), same mask) on the altered task
    into `directory` (skipped when done there), then loads the result into `spec`."""
    p, directory = cfg.pruning, rundir.at(directory)
    if not directory.is_done():
        task_data = altered(data, p.pretrain, seeds.derive(cfg.training.seeds.data, "pretrain"),
                            p.pretrain_blur_factor, p.pretrain_protocol)
        task_per_epoch = pipeline.steps_per_epoch(len(task_data.train), cfg.training.batch_size)
        length = steps.Step.parse(p.pretrain_length, task_per_epoch)
        rundir.write_json(directory.task, {
            "task": p.pretrain, "protocol": p.pretrain_protocol, "steps": length.iteration,
            "steps_per_epoch": task_per_epoch,
            "blur_factor": p.pretrain_blur_factor if p.pretrain == "blur" else None,
            "weights_remaining": sum(c for c, _ in masks.counts().values())})
        task_spec = training.build(cfg, task_data.info, task_per_epoch)  # the same w(0) (seeded by init_seed)
        task_masks = masks_lib.Masks.attach(task_spec, include_biases=cfg.pruning.prune_biases)
        task_masks.assign({name: mask if mask.shape == tuple(task_masks.variables[name].shape)
                           else np.ones(task_masks.variables[name].shape, bool)  # the 4-way head: dense
                           for name, mask in masks.numpy().items()})
        training.fit_into(directory, cfg, task_spec.model, task_data, [], 0, length, task_per_epoch, verbose)
        rundir.write_npz(directory.final_weights, weights_by_path(task_spec.model, non_trainable=True))
        directory.mark_done()
    load_pretrained(spec, rundir.read_npz(directory.final_weights),
                    keep_output=p.pretrain != "rotation" or p.pretrain_protocol == "open_lth")
    masks.apply()
