"""Paper 004 §6's altered pre-training tasks, and IMP started from their end."""
import os

import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from keras_initstudy import datasets, rundir, settings, training
from keras_initstudy.callbacks.snapshots import weights_by_path
from keras_initstudy.datasets.base import Split
from keras_initstudy.pruning import pretraining, rounds
from keras_initstudy.pruning.config import PruneExperimentConfig
from tests.class_tempdir import ClassTempDirTestCase


def small_split(n=6, size=8, seed=0):
    rng = np.random.default_rng(seed)
    return Split(images=rng.random((n, size, size, 1)).astype(np.float32), labels=np.arange(n, dtype=np.int64) % 3)


class TasksTest(tf.test.TestCase):

    def test_rotation_gives_the_four_rotations_with_their_labels(self):
        split = small_split()
        rotated = pretraining.rotations(split)
        self.assertLen(rotated, 4 * len(split))
        self.assertEqual(rotated.labels.tolist(), [0, 1, 2, 3] * len(split))
        image = split.images[2, :, :, 0]
        for k in range(4):
            self.assertAllEqual(rotated.images[4 * 2 + k, :, :, 0], np.rot90(image, k))
        # a quarter turn counter-clockwise: the top row becomes the left column, read bottom-up
        self.assertAllEqual(rotated.images[4 * 2 + 1, ::-1, 0, 0], image[0, :])

    def test_blur_keeps_shape_and_range_and_removes_detail(self):
        split = small_split(size=28)
        blurred = pretraining.blur(split, 4)
        self.assertEqual(blurred.images.shape, split.images.shape)
        self.assertEqual(blurred.images.dtype, np.float32)
        self.assertGreaterEqual(float(blurred.images.min()), 0.0)
        self.assertLessEqual(float(blurred.images.max()), 1.0)
        self.assertAllEqual(blurred.labels, split.labels)
        # detail is gone: neighbouring pixels differ far less than in the noise images
        roughness = lambda x: float(np.abs(np.diff(x, axis=2)).mean())
        self.assertLess(roughness(blurred.images), 0.3 * roughness(split.images))
        # the mean of each 4x4 block survives the down-and-up sampling approximately
        self.assertAllClose(blurred.images.mean(), split.images.mean(), atol=0.02)

    def test_random_labels_keep_the_images_and_permute_the_labels_by_seed(self):
        split = small_split(n=50)
        a, b, c = (pretraining.random_labels(split, s) for s in (1, 1, 2))
        self.assertIs(a.images, split.images)
        self.assertAllEqual(np.sort(a.labels), np.sort(split.labels))
        self.assertAllEqual(a.labels, b.labels)
        self.assertFalse(np.array_equal(a.labels, c.labels))
        self.assertFalse(np.array_equal(a.labels, split.labels))

    def test_settings_that_cannot_go_together(self):
        with self.assertRaisesRegex(settings.ConfigError, "rewind"):
            PruneExperimentConfig().replace(pretrain="blur", rewind="500it")
        with self.assertRaisesRegex(settings.ConfigError, "needs --pretrain"):
            PruneExperimentConfig().replace(sparse_pretrain=True)


class PretrainedImpTest(ClassTempDirTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = datasets.load("fashion_mnist_mini")
        base = dict(output_dir=cls.out, model="lenet_300_100", epochs=1, rounds=2, snapshots="0",
                    nondeterminism="deterministic", weight_images=False, correlations=False, rmsd=False,
                    pretrain_length="15it", pretrain_protocol="package")  # open_lth's: test_loop_parts.py
        cls.rotation_cfg = PruneExperimentConfig().replace(pretrain="rotation", **base)
        cls.rotation = rounds.run(cls.rotation_cfg, verbose=0, dataset=cls.data)
        cls.sparse = rounds.run(PruneExperimentConfig().replace(pretrain="random_labels", sparse_pretrain=True,
                                                                **base), verbose=0, dataset=cls.data)
        tf_config.disable_op_determinism()

    def test_imp_starts_and_rewinds_to_the_end_of_pretraining_with_the_real_head_from_w0(self):
        pretrained = rundir.read_npz(os.path.join(self.rotation, "pretrain", "final.npz"))
        self.assertEqual(pretrained["output/kernel"].shape, (100, 4))
        w0 = weights_by_path(training.build(self.rotation_cfg, self.data.info, 47).model)
        for r in (0, 1):
            start = np.load(rundir.at(self.rotation).round(r).snapshot(0))
            mask = rundir.read_npz(rundir.at(self.rotation).round(r).mask)
            for name in ("hidden_1/kernel", "hidden_2/bias"):
                expected = pretrained[name] * mask[name] if name in mask else pretrained[name]
                self.assertAllEqual(start[name], expected)
            self.assertAllEqual(start["output/kernel"], w0["output/kernel"] * mask["output/kernel"])
            self.assertAllEqual(start["output/bias"], w0["output/bias"])
            self.assertFalse(np.array_equal(start["hidden_2/kernel"], w0["hidden_2/kernel"] * mask["hidden_2/kernel"]))
        self.assertEqual(pd.read_csv(os.path.join(self.rotation, "pretrain", "history.csv"))["step"].iloc[-1], 15)

    def test_sparse_pretraining_pretrains_each_pruned_network_from_w0(self):
        round_1 = os.path.join(rundir.at(self.sparse).round(1), "pretrain")
        self.assertTrue(rundir.at(round_1).is_done())
        pretrained = rundir.read_npz(os.path.join(round_1, "final.npz"))
        mask = rundir.read_npz(rundir.at(self.sparse).round(1).mask)["hidden_1/kernel"]
        self.assertAllEqual(pretrained["hidden_1/kernel"][~mask], np.zeros(int((~mask).sum()), np.float32))
        dense = rundir.read_npz(os.path.join(self.sparse, "pretrain", "final.npz"))
        self.assertFalse(np.array_equal(pretrained["hidden_1/kernel"][mask], dense["hidden_1/kernel"][mask]))
        start = np.load(rundir.at(self.sparse).round(1).snapshot(0))
        self.assertAllEqual(start["hidden_1/kernel"], pretrained["hidden_1/kernel"])


if __name__ == "__main__":
    tf.test.main()
