"""Paper 002's central facts in real training runs: deterministic training keeps a
ConstNet exactly symmetric; simulated rounding noise (or dropout) breaks it; the
determinism comparison sees it; replicated features and the other paper-002 binaries."""
import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tests.class_tempdir import ClassTempDirTestCase
from keras_initstudy import config, datasets, determinism_compare, replicate_features, rundir, train_runner, training
from keras_initstudy.datasets import base

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


def small_data(n_train=256, n_test=128):
    full = datasets.load("fashion_mnist_mini")
    return base.Dataset(train=base.Split(full.train.images[:n_train], full.train.labels[:n_train]),
                        test=base.Split(full.test.images[:n_test], full.test.labels[:n_test]), info=full.info)


def hidden(history, prefix):
    return history[[c for c in history.columns if c.startswith(prefix) and not c.endswith("/output")]]


class ConstNetTrainingTest(ClassTempDirTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = small_data()
        base_cfg = config.ExperimentConfig().replace(
            model="constnet", widen_factor=1, num_blocks=3, epochs=3, batch_size=64, learning_rate=0.03,
            momentum=0.9, weight_decay=5e-4, snapshots="none", weight_images=False,
            perturbation_layers="auto", output_dir=cls.out)
        cls.histories = {}
        for mechanism in ("deterministic", "simulated"):
            # the matrix products round every channel alike (symmetric_arithmetic.py); the 3x3
            # convolutions are TensorFlow's, whose per-channel rounding depends on the CPU
            run_dir = train_runner.run(base_cfg.replace(nondeterminism=mechanism, symmetric_arithmetic=True), verbose=0,
                                     dataset=cls.data)
            cls.histories[mechanism] = pd.read_csv(rundir.at(run_dir).history)
            cls.environment = rundir.at(run_dir).environment
        keras.backend.clear_session()

    def test_deterministic_training_stays_symmetric_to_the_end(self):
        """Every epoch, to the last: features identical (to within float32 rounding of the 3x3
        convolutions on whatever CPU runs this; exactly, on the one the README names)."""
        history = self.histories["deterministic"]
        self.assertLen(history, 3)
        self.assertAllClose(hidden(history, "corr_fwd/").to_numpy(), np.ones(hidden(history, "corr_fwd/").shape),
                            atol=1e-6, rtol=0)
        self.assertAllClose(hidden(history, "perturb").to_numpy(), np.zeros(hidden(history, "perturb").shape),
                            atol=1e-6, rtol=0)

    def test_simulated_noise_breaks_the_symmetry(self):
        history = self.histories["simulated"]
        self.assertGreater(float(hidden(history, "perturb_grad/").to_numpy().max()), 0.0)
        self.assertGreater(float(hidden(history, "perturb/").to_numpy().max()), 0.0)
        self.assertLess(float(hidden(history, "corr_fwd/").to_numpy().min()), 1.0)

    def test_the_mechanism_is_recorded(self):
        with open(self.environment) as f:
            self.assertIn('"mechanism": "simulated"', f.read())


class DeterminismCompareTest(tf.test.TestCase):

    def test_only_simulated_differs_between_repeats_on_this_cpu(self):
        if tf.config.list_physical_devices("GPU"):
            self.skipTest("on a GPU 'default' may differ too")
        base_cfg = config.ExperimentConfig().replace(width=16, epochs=1, snapshots="none",
                                                     weight_images=False, output_dir=self.get_temp_dir())
        table = determinism_compare.compare(base_cfg, ["deterministic", "default", "simulated", "dropout"], 2,
                                            0.1, dataset=small_data()).set_index("mechanism")
        self.assertTrue(table.loc["deterministic", "bit_identical"])
        self.assertTrue(table.loc["default", "bit_identical"])
        self.assertTrue(table.loc["dropout", "bit_identical"])  # seeded dropout is reproducible
        self.assertFalse(table.loc["simulated", "bit_identical"])
        self.assertBetween(float(table.loc["simulated", "max_abs_diff"]), 1e-12, 1e-3)
        self.assertContainsSubset({"fwd_corr_min/hidden_1", "fwd_corr_mean/hidden_2", "test_accuracy_r2", "best_test_accuracy_r2",
                                   "wall_time_s"}, table.columns)

    def test_leakynet_deterministic_repeats_are_identical_and_nearly_symmetric(self):
        """Deterministic LeakyNet runs repeat bit for bit. Unlike ConstNet's, its features do
        not stay exactly identical on a CPU: TensorFlow's CPU kernels leave rounding-level
        channel differences (about 2e-7 after one epoch here, with or without oneDNN), so
        the perturbation norms stay at rounding size rather than at 0."""
        out = self.get_temp_dir()
        base_cfg = config.ExperimentConfig().replace(
            model="leakynet", widen_factor=1, num_blocks=3, channel_init="1", epochs=1, batch_size=64,
            learning_rate=0.01, snapshots="none", weight_images=False, perturbation_layers="auto",
            output_dir=out)
        table = determinism_compare.compare(base_cfg, ["deterministic"], 2, 0.0,
                                            dataset=small_data()).set_index("mechanism")
        self.assertTrue(table.loc["deterministic", "bit_identical"])
        self.assertContainsSubset({"fwd_corr_min/stage1", "fwd_corr_mean/stage3"}, table.columns)
        for run_dir in os.listdir(out):
            history = pd.read_csv(rundir.at(os.path.join(out, run_dir)).history)
            perturb = history[[c for c in history.columns if c.startswith("perturb")]]
            self.assertNotEmpty(perturb.columns)
            self.assertLess(float(perturb.to_numpy().max()), 1e-5)

    def test_binary_rejects_a_flag_of_another_model(self):
        result = subprocess.run([sys.executable, "-m", "keras_initstudy.determinism_compare", "--model=mlp",
                                 "--leaky_alpha=0.1", f"--output_dir={self.get_temp_dir()}"],
                                capture_output=True, text=True, env=ENV, timeout=300)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.strip().splitlines()[-1],
                         "determinism_compare: error: --leaky_alpha does not apply to --model=mlp")


class ReplicateFeaturesTest(tf.test.TestCase):

    def test_one_configuration_trains_for_exactly_the_steps(self):
        row = replicate_features.train_one(small_data(), unique=4, replicas=2, noise=0.0, seed=0, steps=30,
                                           batch_size=32, learning_rate=0.1)
        self.assertEqual((row["width"], row["steps"]), (8, 30))
        self.assertBetween(row["test_accuracy"], 0.0, 1.0)

    def test_binary_resumes_its_table(self):
        out = self.get_temp_dir()
        args = [sys.executable, "-m", "keras_initstudy.replicate_features", "--unique=2", "--replicas=1,2",
                "--noise=0", "--seeds=0", "--steps=20", f"--output_dir={out}"]
        first = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=300)
        self.assertEqual(first.returncode, 0, first.stderr[-2000:])
        table = pd.read_csv(os.path.join(out, "replicate_features.csv"))
        self.assertLen(table, 2)
        second = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=300)
        self.assertIn("2 already in", second.stdout)
        self.assertLen(pd.read_csv(os.path.join(out, "replicate_features.csv")), 2)


class TrainingOptionsTest(tf.test.TestCase):

    def test_step_schedule(self):
        cfg = config.TrainingConfig(learning_rate=0.1, lr_boundaries="2,4", lr_factor=0.2)
        schedule = training.learning_rate(cfg, steps_per_epoch=10)
        self.assertNear(float(schedule(0)), 0.1, 1e-7)
        self.assertNear(float(schedule(25)), 0.02, 1e-7)
        self.assertNear(float(schedule(45)), 0.004, 1e-7)
        self.assertEqual(training.learning_rate(config.TrainingConfig(learning_rate=0.3), 10), 0.3)

    def test_the_first_update_after_a_boundary_uses_the_new_rate(self):
        """Paper 002: lr / 5 from 1-based epoch 60 on (train.py: adjust_learning_rate(epoch + 1) >= 60),
        i.e. --lr_boundaries=59: with 3 steps per epoch, updates 0..176 at 0.03, update 177 on at 0.006.
        Checked on the updates the optimizer applies, not only on the schedule."""
        cfg = config.TrainingConfig(learning_rate=0.03, lr_boundaries="59,119", lr_factor=0.2)
        schedule = training.learning_rate(cfg, steps_per_epoch=3)
        self.assertNear(float(schedule(176)), 0.03, 1e-9)
        self.assertNear(float(schedule(177)), 0.006, 1e-9)
        self.assertNear(float(schedule(356)), 0.006, 1e-9)
        self.assertNear(float(schedule(357)), 0.0012, 1e-9)
        optimizer = training.make_optimizer(config.TrainingConfig(learning_rate=1.0, lr_boundaries="2it,3it",
                                                                  lr_factor=0.5), steps_per_epoch=10)
        w = keras.Variable(np.zeros(1, np.float32))
        steps_taken = []
        for _ in range(4):
            before = float(w.numpy()[0])
            optimizer.apply_gradients([(tf.constant([-1.0]), w)])
            steps_taken.append(float(w.numpy()[0]) - before)
        self.assertAllClose(steps_taken, [1.0, 1.0, 0.5, 0.25])

    def test_mixed_precision_mixup_and_augmentation_run(self):
        cfg = config.ExperimentConfig().replace(width=8, epochs=1, dtype="mixed_float16", mixup=0.2, augment=True,
                                                snapshots="none", output_dir=self.get_temp_dir())
        try:
            run_dir = train_runner.run(cfg, verbose=0, dataset=small_data())
        finally:
            keras.mixed_precision.set_global_policy("float32")
        history = pd.read_csv(rundir.at(run_dir).history)
        self.assertTrue(np.isfinite(history["loss"]).all())
        self.assertBetween(float(history["test_accuracy"].iloc[-1]), 0.0, 1.0)


class ModelFlagTest(tf.test.TestCase):

    def test_train_rejects_flags_of_another_model(self):
        result = subprocess.run([sys.executable, "-m", "keras_initstudy.train", "--model=constnet", "--width=3",
                                 f"--output_dir={self.get_temp_dir()}"],
                                capture_output=True, text=True, env=ENV, timeout=300)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.strip().splitlines()[-1],
                         "train: error: --width does not apply to --model=constnet")


if __name__ == "__main__":
    tf.test.main()
