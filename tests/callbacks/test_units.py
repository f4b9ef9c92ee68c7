"""The callbacks driven by hand, without a fit: the step clock, which steps each callback
acts at and how they group, history rows, checkpoints and save points, snapshots, RMSD
(paper 000 eq. 3) against the reference weights."""
import csv
import math
import os
from unittest import mock

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from keras_initstudy import rundir, steps
from keras_initstudy.callbacks import checkpoint, clock, deviation, history, reference, snapshots
from keras_initstudy.callbacks.perturbation import perturbation_ratio
from tests.class_tempdir import TempDirTestCase


def tiny_model(iterations=0):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="hidden_1"),
                              keras.layers.Dense(2, name="output")], name="tiny")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(iterations)
    return model


class Recorder(clock.StepCallback):
    def __init__(self, at=None):
        super().__init__()
        self.at, self.seen = at, []

    def on_step(self, step):
        self.seen.append(step)

    def acts_at(self, step):
        return self.at is None or step in self.at


class ClockTest(tf.test.TestCase, parameterized.TestCase):

    def test_steps_count_from_the_optimizer_and_the_batch_index(self):
        callback = Recorder()
        callback.set_model(tiny_model(iterations=5))
        callback.on_train_begin()
        self.assertEqual(callback.step, 5)
        callback.on_train_batch_end(0)  # no epoch begun: one more step
        self.assertEqual(callback.step, 6)
        callback.on_epoch_begin(0)
        callback.on_train_batch_end(3)  # four batches into the epoch (grouped calls)
        callback.on_train_batch_end(4)
        self.assertEqual(callback.seen, [6, 10, 11])
        self.assertTrue(clock.StepCallback().acts_at(7))

    def test_which_callbacks_act_at_a_step(self):
        class Batchwise(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                pass

        class Asks(keras.callbacks.Callback):
            def acts_at(self, step):
                return step == 4

        self.assertTrue(clock.acts_at(Recorder(at={3}), 3))
        self.assertFalse(clock.acts_at(Recorder(at={3}), 4))
        self.assertFalse(clock.acts_at(keras.callbacks.TensorBoard(update_freq="epoch"), 3))
        self.assertTrue(clock.acts_at(keras.callbacks.TensorBoard(update_freq=10), 3))
        self.assertTrue(clock.acts_at(keras.callbacks.TensorBoard(profile_batch=2), 3))
        self.assertTrue(clock.acts_at(keras.callbacks.TensorBoard(profile_batch=1), 3))
        self.assertTrue(clock.acts_at(Asks(), 4))
        self.assertFalse(clock.acts_at(Asks(), 5))
        self.assertTrue(clock.acts_at(Batchwise(), 5))
        self.assertFalse(clock.acts_at(keras.callbacks.Callback(), 5))

    @parameterized.parameters(({5, 10, 15}, 0, 20, 5), ({8}, 3, 13, 5), (set(), 0, 20, 20), ({7}, 0, 20, 1),
                              ({4, 6}, 0, 12, 2), ({1}, 0, 1, 1), (set(), 4, 4, 1), ({12}, 0, 12, 12),
                              ({1}, 0, 4, 1), ({3}, 1, 5, 2), ({2, 3}, 0, 4, 1))
    def test_common_stride(self, acting, start, end, expected):
        self.assertEqual(clock.common_stride([Recorder(at=acting), keras.callbacks.Callback()], start, end), expected)


class HistoryTest(TempDirTestCase):

    def test_rows_at_epoch_ends_and_a_mid_epoch_end(self):
        path = os.path.join(self.dir, "history.csv")
        callback = history.HistoryCSV(path, steps_per_epoch=4)
        callback.set_model(tiny_model())
        self.assertFalse(callback.acts_at(4))
        callback.on_train_begin()
        callback.on_epoch_begin(0)
        callback.on_train_batch_end(3)
        callback.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.25, "val_accuracy": 0.75})
        callback.on_epoch_begin(1)
        callback.on_train_batch_end(1)
        callback.on_epoch_end(1, {"loss": 0.125})
        rows = history.read_history(path)
        self.assertEqual([(r["epoch"], r["step"], r["loss"]) for r in rows], [("1", "4", "0.5"), ("1.5", "6", "0.125")])
        self.assertEqual((rows[0]["test_loss"], rows[0]["test_accuracy"]), ("0.25", "0.75"))
        self.assertGreaterEqual(float(rows[0]["wall_time"]), 0.0)
        self.assertEqual(list(rows[0])[:2], ["epoch", "step"])
        resumed = history.HistoryCSV(path, steps_per_epoch=4, resume_step=4)  # rows past the resume go
        self.assertEqual([r["step"] for r in resumed.rows], ["4"])

    def test_row_step_and_names(self):
        self.assertEqual(history.row_step({"epoch": "2", "step": "9"}, 4), 9)
        self.assertEqual(history.row_step({"epoch": "2.5", "step": ""}, 4), 10)  # rows without a step
        self.assertEqual(history.row_step({"epoch": "3"}, 4), 12)
        self.assertEqual(history._rename("val_accuracy"), "test_accuracy")
        self.assertEqual(history._rename("loss_val_x"), "loss_val_x")
        self.assertEqual(history.read_history(os.path.join(self.dir, "none.csv")), [])


class CheckpointTest(TempDirTestCase):

    def test_acts_between_epoch_ends_and_saves_epoch_ends_after_the_logs(self):
        callback = checkpoint.Checkpoint(self.dir, every=5, steps_per_epoch=10)
        self.assertEqual([s for s in range(1, 31) if callback.acts_at(s)], [5, 15, 25])
        callback.set_model(tiny_model())
        with mock.patch.object(checkpoint.training_state, "save") as save:
            callback.on_train_begin()
            callback.on_epoch_begin(0)
            callback.on_train_batch_end(4)   # step 5: mid-epoch save
            callback.on_train_batch_end(9)   # step 10: epoch end, saved in on_epoch_end
            self.assertEqual([c.args[3] for c in save.call_args_list], [5])
            callback.on_epoch_end(0)
        self.assertEqual([c.args for c in save.call_args_list],
                         [(callback.model, self.dir, "state", 5), (callback.model, self.dir, "state", 10)])
        every_3 = checkpoint.Checkpoint(self.dir, every=3, steps_per_epoch=10)
        every_3.set_model(tiny_model(iterations=10))
        with mock.patch.object(checkpoint.training_state, "save") as save:
            every_3.on_train_begin()
            every_3.on_epoch_end(0)  # step 10 is not a multiple of 3
        save.assert_not_called()
        with self.assertRaisesRegex(ValueError, "^checkpoint interval must be >= 1 step, got 0$"):
            checkpoint.Checkpoint(self.dir, every=0, steps_per_epoch=10)

    def test_save_points_and_checkpoints_really_restore(self):
        """Real files: a save point and the checkpoint bring back the weights and the step."""
        model = tiny_model(iterations=7)
        saved = [w.numpy() for w in model.weights]
        points = checkpoint.SavePoints(os.path.join(self.dir, "points"), [7, 9])
        points.set_model(model)
        points.on_train_begin()  # step 7 is in the list: kept at the start
        every = checkpoint.Checkpoint(os.path.join(self.dir, "ckpt"), every=1, steps_per_epoch=10)  # every step
        every.set_model(model)
        every.on_train_begin()
        every.on_epoch_begin(0)
        model.optimizer.iterations.assign(8)  # as a fit's update would
        every.on_train_batch_end(0)  # step 8, mid-epoch
        for w in model.weights:
            w.assign(tf.zeros_like(w))
        other = tiny_model()
        self.assertEqual(checkpoint.load_save_point(other, os.path.join(self.dir, "points"), 7), 7)
        for a, b in zip(other.weights, saved):
            self.assertAllEqual(a.numpy(), b)
        self.assertEqual(checkpoint.save_point_steps(os.path.join(self.dir, "points")), [7])
        restored = tiny_model()
        self.assertEqual(checkpoint.restore(restored, os.path.join(self.dir, "ckpt")), 8)
        for a, b in zip(restored.weights[:4], saved[:4]):  # the layers' weights
            self.assertAllEqual(a.numpy(), b)
        points.on_epoch_begin(0)
        points.on_train_batch_end(0)  # step 8: not a save point
        model.optimizer.iterations.assign(9)
        points.on_train_batch_end(1)  # step 9
        self.assertEqual(checkpoint.save_point_steps(os.path.join(self.dir, "points")), [7, 9])
        again = checkpoint.SavePoints(os.path.join(self.dir, "points"), [9])
        again.set_model(tiny_model(iterations=9))
        with mock.patch.object(checkpoint.training_state, "save") as save:
            again.on_train_begin()  # the save point of step 9 exists: not rewritten
        save.assert_not_called()

    def test_save_points(self):
        self.assertEqual(checkpoint.step_name(500), "step-000000500")
        callback = checkpoint.SavePoints(self.dir, ["0", 7])
        self.assertEqual((callback.acts_at(7), callback.acts_at(8)), (True, False))
        callback.set_model(tiny_model())
        with mock.patch.object(checkpoint.training_state, "save") as save:
            callback.on_train_begin()  # step 0 is kept at the start
            callback.on_epoch_begin(0)
            callback.on_train_batch_end(6)
            callback.on_train_batch_end(7)
        self.assertEqual([c.args[2:] for c in save.call_args_list], [("step-000000000", 0), ("step-000000007", 7)])
        for step in (12, 3):
            open(os.path.join(self.dir, f"step-{step:09d}.json"), "w").close()
        self.assertEqual(checkpoint.save_point_steps(self.dir), [3, 12])
        with self.assertRaises(FileNotFoundError) as missing:
            checkpoint.load_save_point(tiny_model(), self.dir, 5)
        self.assertEqual(str(missing.exception), f"no save point at step 5 in {self.dir} (have: [3, 12])")
        self.assertEqual(checkpoint.restore(tiny_model(), os.path.join(self.dir, "none")), 0)


class SnapshotsTest(TempDirTestCase):

    def test_parse_schedule(self):
        end = steps.Step(100, 10)  # 10 epochs of 10 steps
        self.assertEqual(snapshots.parse_schedule(" none ", end), [])
        self.assertEqual([s.iteration for s in snapshots.parse_schedule("log:3", end)], [0, 10, 30, 100])
        self.assertEqual([s.iteration for s in snapshots.parse_schedule("2,15it,20", end)], [0, 15, 20, 100])
        self.assertEqual([s.iteration for s in snapshots.parse_schedule("log:2", steps.Step(5, 10))], [0, 5])
        with self.assertRaisesRegex(ValueError, r"^log:N needs N >= 1, got 'log:0'$"):
            snapshots.parse_schedule("log:0", end)

    def test_snapshots_at_their_steps(self):
        model = tiny_model()
        schedule = [steps.Step(0, 4), steps.Step(2, 4), steps.Step(4, 4)]
        callback = snapshots.WeightSnapshots(self.dir, schedule)
        callback.set_model(model)
        self.assertEqual([s for s in range(6) if callback.acts_at(s)], [0, 2, 4])
        callback.on_train_begin()
        callback.on_epoch_begin(0)
        for batch in range(4):
            callback.on_train_batch_end(batch)
        files = sorted(os.listdir(rundir.at(self.dir).snapshots))
        self.assertEqual(files, ["epoch-00000.npz", "epoch-00001.npz", "step-000000002.npz"])
        saved = rundir.read_npz(rundir.at(self.dir).snapshot(1))
        self.assertEqual(sorted(saved), ["hidden_1/bias", "hidden_1/kernel", "output/bias", "output/kernel"])
        self.assertAllEqual(saved["output/kernel"], model.get_layer("output").kernel.numpy())
        self.assertEqual(set(callback.bytes_written), {0, 2, 4})
        self.assertEqual(callback.bytes_written[2], os.path.getsize(rundir.at(self.dir).snapshot_at(schedule[1])))
        # A resumed start does not overwrite the snapshot its first start saved.
        before = os.path.getmtime(rundir.at(self.dir).snapshot(0))
        again = snapshots.WeightSnapshots(self.dir, schedule)
        again.set_model(model)
        with mock.patch.object(again, "save") as save:
            again.on_train_begin()
        save.assert_not_called()
        self.assertEqual(os.path.getmtime(rundir.at(self.dir).snapshot(0)), before)

    def test_weights_by_path(self):
        model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(name="bn")], name="m")
        self.assertEqual(sorted(snapshots.weights_by_path(model)), ["bn/beta", "bn/gamma"])
        self.assertEqual(sorted(snapshots.weights_by_path(model, non_trainable=True)),
                         ["bn/beta", "bn/gamma", "bn/moving_mean", "bn/moving_variance"])


class DeviationTest(TempDirTestCase):

    def test_rmsd_is_eq_3_in_total_and_per_layer(self):
        model = tiny_model()
        variables = {f"{l}/kernel": model.get_layer(l).kernel for l in ("hidden_1", "output")}
        variables["output/bias"] = model.get_layer("output").bias
        ref = reference.ReferenceWeights(variables)
        self.assertEqual(ref.kernel_indices(), [0, 1])
        self.assertEqual(ref.by_layer(), {"hidden_1": [0], "output": [1, 2]})
        model.get_layer("hidden_1").kernel.assign_add(np.full((3, 2), 0.5, np.float32))  # 6 weights moved 0.5
        model.get_layer("output").bias.assign_add([1.0, 0.0])
        tracker = deviation.DeviationTracker(ref)
        values = tracker.measure()
        self.assertNear(values["rmsd"], math.sqrt((6 * 0.25 + 1.0) / 12), 1e-6)
        self.assertNear(values["rmsd/hidden_1"], 0.5, 1e-6)
        self.assertNear(values["rmsd/output"], math.sqrt(1.0 / 6), 1e-6)
        logs = {"loss": 1.0}
        tracker.on_epoch_end(0, logs)
        self.assertEqual(set(logs), {"loss", "rmsd", "rmsd/hidden_1", "rmsd/output"})

    def test_reference_values_and_checks(self):
        model = tiny_model()
        kernel = model.get_layer("hidden_1").kernel
        given = np.ones((3, 2), np.float32)
        ref = reference.ReferenceWeights({"hidden_1/kernel": kernel}, {"hidden_1/kernel": given})
        self.assertAllEqual(ref.reference[0].numpy(), given)
        copy = reference.ReferenceWeights({"hidden_1/kernel": kernel})
        kernel.assign_add(tf.ones((3, 2)))
        self.assertNotAllEqual(copy.reference[0].numpy(), kernel.numpy())  # a copy, not the variable
        with self.assertRaisesRegex(ValueError, r"^reference values for \['x'\] but variables \['hidden_1/kernel'\]$"):
            reference.ReferenceWeights({"hidden_1/kernel": kernel}, {"x": given})
        self.assertEqual(reference.layer_of("stage1/block/kernel"), "stage1/block")

    def test_rmsd_every_k_steps_into_its_csv(self):
        model = tiny_model()
        path = os.path.join(self.dir, "rmsd_steps.csv")
        ref = reference.ReferenceWeights({"hidden_1/kernel": model.get_layer("hidden_1").kernel})
        with self.assertRaisesRegex(ValueError, "^every_steps needs steps_csv$"):
            deviation.DeviationTracker(ref, every_steps=2)
        tracker = deviation.DeviationTracker(ref, every_steps=2, steps_csv=path)
        tracker.set_model(model)
        self.assertEqual([s for s in range(1, 7) if tracker.acts_at(s)], [2, 4, 6])
        self.assertFalse(deviation.DeviationTracker(ref).acts_at(2))
        tracker.on_train_begin()
        tracker.on_epoch_begin(0)
        for batch in range(5):
            tracker.on_train_batch_end(batch)
        tracker.on_epoch_end(0, {})
        rows = deviation.read_rows(path)
        self.assertEqual([(r["step"], r["epoch"]) for r in rows], [(2, 0), (4, 0)])
        self.assertEqual(rows[0]["rmsd"], 0.0)
        with open(path) as f:
            self.assertEqual(next(csv.reader(f)), ["step", "epoch", "rmsd", "rmsd/hidden_1"])
        resumed = deviation.DeviationTracker(ref, every_steps=2, steps_csv=path)
        resumed.set_model(tiny_model(iterations=3))
        resumed.on_train_begin()  # rows after the resume point are redone
        self.assertEqual([r["step"] for r in resumed.step_rows], [2])
        at_a_row = deviation.DeviationTracker(ref, every_steps=2, steps_csv=path)
        at_a_row.set_model(tiny_model(iterations=4))
        at_a_row.on_train_begin()  # resumed exactly at step 4: its row was written and stays
        self.assertEqual([r["step"] for r in at_a_row.step_rows], [2, 4])
        self.assertEqual(deviation.read_rows(os.path.join(self.dir, "none.csv")), [])


class PerturbationRatioTest(tf.test.TestCase):

    def test_share_of_the_features_away_from_their_mean(self):
        self.assertEqual(perturbation_ratio(np.zeros((2, 4))), 0.0)
        self.assertEqual(perturbation_ratio(np.ones((2, 4))), 0.0)  # identical features
        h = np.array([[1.0, -1.0]])
        self.assertNear(perturbation_ratio(h), 1.0, 1e-12)
        h = np.array([[3.0, 1.0]])  # mean 2: residual (1, -1), norm sqrt(2) of sqrt(10)
        self.assertNear(perturbation_ratio(h), math.sqrt(2 / 10), 1e-12)



class EdgeCasesTest(TempDirTestCase):
    """The callbacks' less travelled paths: defaults, legacy rows, odd variable paths."""

    def test_history_defaults_rounding_and_wall_time(self):
        path = os.path.join(self.dir, "history.csv")
        rundir.write_rows(path, [{"epoch": 0.25, "step": 1}, {"epoch": 0.5}])  # the second row without a step
        self.assertEqual(history.HistoryCSV(path, steps_per_epoch=4).rows, [])  # resume_step 0 by default
        self.assertEqual([r["epoch"] for r in history.HistoryCSV(path, 4, resume_step=2).rows], ["0.25", "0.5"])
        self.assertEqual([r["epoch"] for r in history.HistoryCSV(path, 8, resume_step=3).rows], ["0.25"])  # 0.5 x 8
        callback = history.HistoryCSV(os.path.join(self.dir, "mid.csv"), steps_per_epoch=3)
        callback.set_model(tiny_model())
        callback.on_train_begin()
        callback.on_epoch_begin(0)
        callback.on_train_batch_end(0)
        callback.on_epoch_end(0, None)
        row = history.read_history(os.path.join(self.dir, "mid.csv"))[0]
        self.assertEqual((row["epoch"], row["step"]), ("0.333333", "1"))
        self.assertBetween(float(row["wall_time"]), 0.0, 60.0)

    def test_reference_copies_are_untrainable_and_keep_the_variables_dtype(self):
        model = tiny_model()
        kernel = model.get_layer("hidden_1").kernel
        for ref in (reference.ReferenceWeights({"hidden_1/kernel": kernel}),
                    reference.ReferenceWeights({"hidden_1/kernel": kernel}, {"hidden_1/kernel": np.ones((3, 2))})):
            self.assertFalse(ref.reference[0].trainable)
            self.assertEqual(ref.reference[0].dtype, tf.float32)  # float64 values are cast to the variable's

    def test_reference_of_a_spec(self):
        from keras_initstudy import models
        spec = models.ModelSpec.of(tiny_model())
        self.assertEqual(reference.ReferenceWeights.of(spec).names, ["hidden_1/kernel", "output/kernel"])
        with_biases = reference.ReferenceWeights.of(spec, include_biases=True)
        self.assertEqual(with_biases.names, ["hidden_1/kernel", "hidden_1/bias", "output/kernel", "output/bias"])
        self.assertIs(with_biases.variables[1], spec.model.get_layer("hidden_1").bias)

    def test_variable_name_outside_the_model_scope(self):
        model = tiny_model()
        self.assertEqual(snapshots.variable_name(model, model.get_layer("hidden_1").kernel), "hidden_1/kernel")
        loose = keras.Variable(np.zeros(2), name="loose")
        self.assertEqual(snapshots.variable_name(model, loose), loose.path)
        self.assertNotIn("/", snapshots.variable_name(model, loose))

    def test_rmsd_steps_file_is_not_written_before_its_first_row(self):
        model = tiny_model()
        path = os.path.join(self.dir, "rmsd_steps.csv")
        tracker = deviation.DeviationTracker(
            reference.ReferenceWeights({"hidden_1/kernel": model.get_layer("hidden_1").kernel}), every_steps=100,
            steps_csv=path)
        tracker.set_model(model)
        tracker.on_train_begin()
        tracker.on_epoch_begin(0)
        for batch in range(3):
            tracker.on_train_batch_end(batch)
        tracker.on_epoch_end(0, {})
        self.assertFalse(os.path.exists(path))

    def test_rmsd_rows_read_back_with_integer_steps_and_epochs(self):
        path = os.path.join(self.dir, "rmsd_steps.csv")
        rundir.write_rows(path, [{"step": 4, "epoch": 1, "rmsd": 0.5}])
        rows = deviation.read_rows(path)
        self.assertEqual(rows, [{"step": 4, "epoch": 1, "rmsd": 0.5}])
        self.assertIsInstance(rows[0]["step"], int)
        self.assertIsInstance(rows[0]["epoch"], int)

    def test_perturbation_ratio_over_the_channel_axis_of_feature_maps(self):
        h = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
        residual = h - h.mean(axis=-1, keepdims=True)
        self.assertNear(perturbation_ratio(h), np.linalg.norm(residual) / np.linalg.norm(h), 1e-12)


if __name__ == "__main__":
    tf.test.main()
