"""Paper 004 Fig. 3's telemetry inside a real run, checked against host recomputations
from snapshots taken in the same run."""
import os

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from keras_initstudy import config, datasets, rundir, steps, train_runner, training
from tests.class_tempdir import ClassTempDirTestCase
from tests.helpers import InterruptAtStep

PER_EPOCH = 47  # fashion_mnist_mini: 6,000 / 128
KERNELS = ("hidden_1/kernel", "hidden_2/kernel", "output/kernel")


def kernel_vector(path):
    arrays = np.load(path)
    return np.concatenate([arrays[name].astype(np.float64).ravel() for name in KERNELS])


class TelemetryTest(ClassTempDirTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cfg = config.ExperimentConfig().replace(
            output_dir=cls.out, width=16, epochs=2, snapshots="0,7it,20it,30it,47it", telemetry=True,
            telemetry_window="30it", telemetry_eval_every="10it", telemetry_state_every="10it",
            weight_images=False, correlations=False, nondeterminism="deterministic")
        cls.run_dir = train_runner.run(cls.cfg, verbose=0)
        cls.rows = pd.read_csv(rundir.at(cls.run_dir).telemetry).set_index("step")
        cls.final_rows = pd.read_csv(rundir.at(cls.run_dir).telemetry_final).set_index("step")
        tf_config.disable_op_determinism()

    def snapshot(self, step):
        return kernel_vector(rundir.at(self.run_dir).snapshot_at(steps.Step(step, PER_EPOCH)))

    def test_logged_steps_every_step_in_the_window_then_every_epoch(self):
        self.assertEqual(self.rows.index.tolist(), [*range(0, 31), 47, 94])
        self.assertEqual(self.rows["test_accuracy"].dropna().index.tolist(), [0, 10, 20, 30, 47, 94])

    def test_at_step_zero_nothing_has_moved(self):
        row = self.rows.loc[0]
        self.assertEqual(row["sign_changed_pct"], 0.0)
        self.assertEqual(row["l2_to_init"], 0.0)
        self.assertAllClose(row["cosine_to_init"], 1.0, atol=1e-12)

    def test_later_rows_match_a_host_recomputation_from_snapshots(self):
        w0 = self.snapshot(0)
        for step in (7, 20, 47):
            with self.subTest(step=step):
                w, row = self.snapshot(step), self.rows.loc[step]
                self.assertAllClose(row["l2_to_init"], np.linalg.norm(w - w0), rtol=1e-9)
                self.assertAllClose(row["cosine_to_init"], w @ w0 / np.linalg.norm(w) / np.linalg.norm(w0), rtol=1e-9)
                self.assertAllClose(row["mean_abs_weight"], np.abs(w).mean(), rtol=1e-9)
                self.assertAllClose(row["sign_changed_pct"], 100 * np.mean(np.sign(w) != np.sign(w0)), rtol=1e-9)
                self.assertGreater(row["sign_changed_pct"], 0.0)
        chosen = [self.rows.loc[0][f"weight_{i}"] for i in range(10)]
        self.assertLen(set(chosen), 10)
        for i, value in enumerate(chosen):  # each tracked weight is an entry of w(0), followed at step 20
            index = int(np.flatnonzero(w0 == value)[0])
            self.assertEqual(self.rows.loc[20][f"weight_{i}"], self.snapshot(20)[index])

    def test_distances_to_the_final_weights_of_the_kept_states(self):
        self.assertEqual(self.final_rows.index.tolist(), [0, 10, 20, 30, 47, 94])
        final = self.snapshot(94)
        for step in (0, 20, 47):
            w = self.snapshot(step)
            self.assertAllClose(self.final_rows.loc[step, "l2_to_final"], np.linalg.norm(w - final), rtol=1e-9)
            self.assertAllClose(self.final_rows.loc[step, "cosine_to_final"],
                                w @ final / np.linalg.norm(w) / np.linalg.norm(final), rtol=1e-9)
        self.assertEqual(self.final_rows.loc[94, "l2_to_final"], 0.0)
        self.assertEqual(os.listdir(os.path.join(rundir.at(self.run_dir).telemetry_dir, "states")), [])

    def test_gradient_norm_at_step_zero_matches_a_direct_computation(self):
        data = datasets.load("fashion_mnist_mini")
        spec = training.build(self.cfg, data.info, PER_EPOCH)
        callback = training.telemetry_callback(spec, self.cfg, self.out, steps.Step(94, PER_EPOCH), data)
        images, labels = callback.probe_images, callback.probe_labels
        with tf.GradientTape() as tape:
            loss = keras.losses.SparseCategoricalCrossentropy()(labels, spec.model(images, training=False))
        grads = tape.gradient(loss, spec.model.trainable_weights)
        expected = np.sqrt(sum(float(tf.reduce_sum(g * g)) for g in grads))
        self.assertAllClose(self.rows.loc[0, "grad_norm"], expected, rtol=1e-5)

    def test_test_metrics_match_keras_evaluation_at_the_end(self):
        history = pd.read_csv(rundir.at(self.run_dir).history).set_index("step")
        self.assertAllClose(self.rows.loc[94, "test_accuracy"], history.loc[94, "test_accuracy"], atol=1e-6)
        self.assertAllClose(self.rows.loc[94, "test_loss"], history.loc[94, "test_loss"], rtol=1e-4)

    def test_a_run_killed_in_the_window_resumes_with_the_same_telemetry(self):
        cfg = self.cfg.replace(output_dir=os.path.join(self.out, "killed"), checkpoint_every="10it")
        with self.assertRaises(KeyboardInterrupt):
            train_runner.run(cfg, extra_callbacks=[InterruptAtStep(25)], verbose=0)
        self.assertEqual(pd.read_csv(rundir.at(rundir.path_for(cfg)).telemetry)["step"].iloc[-1], 20)
        run_dir = train_runner.run(cfg, verbose=0)
        tf_config.disable_op_determinism()
        resumed = pd.read_csv(rundir.at(run_dir).telemetry).set_index("step")
        pd.testing.assert_frame_equal(resumed, self.rows)
        pd.testing.assert_frame_equal(pd.read_csv(rundir.at(run_dir).telemetry_final).set_index("step"),
                                      self.final_rows)


class TelemetrySettingsTest(tf.test.TestCase):

    def test_zero_step_intervals_are_refused_before_any_run(self):
        from keras_initstudy import settings
        for name in ("telemetry_eval_every", "telemetry_state_every"):
            with self.subTest(name), self.assertRaisesRegex(settings.ConfigError, "at least one step"):
                config.ExperimentConfig().replace(telemetry=True, **{name: "0it"})


if __name__ == "__main__":
    tf.test.main()
