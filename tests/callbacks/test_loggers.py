"""The measuring callbacks driven by hand, without a fit, on a tiny classifier whose
weights the test moves itself: early-phase telemetry (paper 004 Fig. 3), gradient
quantiles (paper 001 §4), weight images (paper 000 Fig. 1), held-out evaluation,
correlations (paper 002 eqs. 5-6) and symmetry perturbations (paper 002 App. G).
Every logged value is checked against a direct recomputation, every schedule at the
steps it names and skips, and every file at the moments it must reach disk."""
import csv
import os

import keras
import numpy as np
import tensorflow as tf

from keras_initstudy import pipeline, rundir
from keras_initstudy.analysis import correlations
from keras_initstudy.callbacks import gradients, perturbation, telemetry, validation, weight_images
from keras_initstudy.callbacks.correlations import CorrelationLogger, kernel_correlations
from keras_initstudy.callbacks.reference import ReferenceWeights
from keras_initstudy.datasets.base import Split
from tests import tb_events
from tests.class_tempdir import TempDirTestCase

RNG = np.random.default_rng(7)
IMAGES = RNG.normal(size=(10, 4)).astype(np.float32)
LABELS = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 0], np.int64)


def classifier(iterations=0, loss=None):
    """Dense-ReLU-dropout-softmax: a measurement made in training mode would differ."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu", name="hidden_1"),
                              keras.layers.Dropout(0.5, seed=1, name="dropout"),
                              keras.layers.Dense(3, activation="softmax", name="output")], name="classifier")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss or keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(iterations)
    return model


def kernels_of(model):
    return {f"{layer.name}/kernel": layer.kernel for layer in model.layers if hasattr(layer, "kernel")}


def kernel_vector(model):
    return np.concatenate([np.asarray(k.numpy(), np.float64).ravel() for k in kernels_of(model).values()])


def move(model, step):
    """A deterministic change of every weight, different at each step, with sign flips."""
    for i, v in enumerate(model.trainable_variables):
        shape = v.shape
        v.assign(v.numpy() * np.float32(0.9) + np.float32(0.05 * step) * np.cos(np.arange(np.prod(shape)) + i + step)
                 .reshape(shape).astype(np.float32))


def drive(callback, model, steps_to, start=0, per_epoch=None, between=move):
    """Keras's hook order for a fit from `start` to `steps_to`, one step per call (a fit
    counts its batches from 0, also when it resumes mid-epoch)."""
    callback.set_model(model)
    callback.on_train_begin()
    epoch, batch = (start // per_epoch if per_epoch else 0), 0
    callback.on_epoch_begin(epoch)
    for step in range(start + 1, steps_to + 1):
        between(model, step)
        model.optimizer.iterations.assign(step)
        callback.on_train_batch_end(batch)
        batch += 1
        if per_epoch and step % per_epoch == 0:
            callback.on_epoch_end(epoch, {})
            epoch, batch = epoch + 1, 0
            callback.on_epoch_begin(epoch)
    callback.on_train_end()


def csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def scalars(folder, tag):
    """{step: value} of one scalar tag in a TensorBoard folder."""
    return {event.step: float(tf.make_ndarray(value.tensor)) for event in tb_events.events(folder)
            for value in event.summary.value if value.tag == tag}


def direct_loss_and_accuracy(model, images, labels):
    probabilities = model(images, training=False).numpy().astype(np.float64)
    loss = -np.log(probabilities[np.arange(len(labels)), labels]).mean()
    return loss, float(np.mean(probabilities.argmax(-1) == labels))


def direct_gradients(model, variables, images=IMAGES[:6], labels=LABELS[:6]):
    """dL/dv on the probe batch (the first six examples), in inference mode."""
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(labels, model(images, training=False))
    return [g.numpy() for g in tape.gradient(loss, variables)]


class L2AndCosineTest(tf.test.TestCase):

    def test_distance_and_cosine(self):
        l2, cosine = telemetry.l2_and_cosine(np.array([1.0, 2.0]), np.array([-2.0, -4.0]))
        self.assertAllClose(l2, np.sqrt(45.0), rtol=1e-12)
        self.assertAllClose(cosine, -1.0, rtol=1e-15)
        self.assertEqual(telemetry.l2_and_cosine(np.array([3.0, 0.0]), np.array([0.0, 4.0])), (5.0, 0.0))
        self.assertAllClose(telemetry.l2_and_cosine(np.array([1.0, 1.0]), np.array([1.0, 0.0]))[1], np.sqrt(0.5))
        self.assertEqual(telemetry.l2_and_cosine(np.zeros(3), np.zeros(3)), (0.0, 1.0))
        self.assertEqual(telemetry.l2_and_cosine(np.zeros(2), np.array([3.0, 4.0])), (5.0, 1.0))
        # a rounded quotient outside [-1, 1] is clipped to it (values outside by construction, so no
        # test depends on a BLAS kernel's rounding)
        self.assertEqual(telemetry.clipped_cosine(1.0 + 1e-9, 1.0), 1.0)
        self.assertEqual(telemetry.clipped_cosine(-3.0000001, 3.0), -1.0)
        self.assertEqual(telemetry.clipped_cosine(0.5, 2.0), 0.25)
        self.assertEqual(telemetry.clipped_cosine(2.0, 0.0), 1.0)

    def test_flat_concatenates_in_float64(self):
        out = telemetry.flat([tf.Variable([[1.5, 2.0]]), tf.Variable([3.0])])
        self.assertEqual(out.dtype, np.float64)
        self.assertAllEqual(out, [1.5, 2.0, 3.0])


class TelemetryTest(TempDirTestCase):
    # per_epoch 6, window 5, end 14: logged 0-5, 6, 12, 14; test metrics at 0, 2, 4 (eval_every 2),
    # 6, 12, 14; states at 0, 3 (state_every 3), 6, 12, 14; flushes at 0, 4 (flush_every), 5, 6, 12, 14.
    PER_EPOCH, WINDOW, END = 6, 5, 14

    def make(self, model, num_weights=4, seed=0):
        return telemetry.Telemetry(self.dir, kernels_of(model), self.END, self.PER_EPOCH, window=self.WINDOW,
                                   eval_every=2, state_every=3, probe=(IMAGES[:6], LABELS[:6]),
                                   test=tf.data.Dataset.from_tensor_slices((IMAGES, LABELS)).batch(4),
                                   num_weights=num_weights, seed=seed, flush_every=4)

    def run_recording(self, model, callback, end=None):
        """Drives the callback from step 0; returns {step: kernel vector} and {step: rows on disk} after each step."""
        vectors, on_disk = {0: kernel_vector(model)}, {}

        def between(m, step):
            on_disk[step - 1] = [int(r["step"]) for r in csv_rows(rundir.at(self.dir).telemetry)]
            move(m, step)
            vectors[step] = kernel_vector(m)
        drive(callback, model, end or self.END, per_epoch=self.PER_EPOCH, between=between)
        return vectors, on_disk

    def test_rows_at_their_steps_match_a_direct_recomputation(self):
        model = classifier()
        callback = self.make(model)
        vectors, on_disk = self.run_recording(model, callback)
        rows = {int(r["step"]): r for r in csv_rows(rundir.at(self.dir).telemetry)}
        self.assertEqual(sorted(rows), [0, 1, 2, 3, 4, 5, 6, 12, 14])
        tested = [s for s, r in rows.items() if r["test_accuracy"]]
        self.assertEqual(tested, [0, 2, 4, 6, 12, 14])
        w0 = vectors[0]
        chosen = np.sort(np.random.default_rng(0).choice(w0.size, size=4, replace=False))
        for step, row in rows.items():
            w = vectors[step]
            with self.subTest(step=step):
                self.assertAllClose(float(row["epoch"]), step / 6)
                self.assertAllClose(float(row["mean_abs_weight"]), np.abs(w).mean(), rtol=1e-12)
                self.assertAllClose(float(row["sign_changed_pct"]),
                                    100 * np.mean(np.signbit(w) != np.signbit(w0)), rtol=1e-12)
                self.assertAllClose(float(row["l2_to_init"]), np.linalg.norm(w - w0), rtol=1e-12)
                self.assertAllClose(float(row["cosine_to_init"]), w @ w0 / np.linalg.norm(w) / np.linalg.norm(w0),
                                    rtol=1e-12)
                self.assertAllClose([float(row[f"weight_{i}"]) for i in range(4)], w[chosen], rtol=1e-7)
                self.assertNotIn("weight_4", row)
        self.assertGreater(float(rows[14]["sign_changed_pct"]), 0.0)
        self.assertLess(float(rows[14]["cosine_to_init"]), 0.999)

    def test_gradient_norm_and_test_metrics_are_those_of_the_model_at_the_step(self):
        model = classifier()
        callback = self.make(model)
        expected = {}

        def between(m, step):
            if step - 1 in (0, 4, 6, 12):
                grads = direct_gradients(m, m.trainable_variables)
                expected[step - 1] = (np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)),
                                      *direct_loss_and_accuracy(m, IMAGES, LABELS))
            move(m, step)
        drive(callback, model, self.END, per_epoch=self.PER_EPOCH, between=between)
        rows = {int(r["step"]): r for r in csv_rows(rundir.at(self.dir).telemetry)}
        for step, (norm, loss, accuracy) in expected.items():
            with self.subTest(step=step):
                self.assertAllClose(float(rows[step]["grad_norm"]), norm, rtol=1e-5)
                self.assertAllClose(float(rows[step]["test_loss"]), loss, rtol=1e-5)
                self.assertAllClose(float(rows[step]["test_accuracy"]), accuracy)
        self.assertLen({rows[s]["grad_norm"] for s in expected}, 4)

    def test_training_mode_gradient_uses_batch_statistics_and_leaves_running_averages(self):
        """Paper 004 measures the gradient training follows: batch statistics; the measurement
        must not move batch norm's running averages."""
        inputs = keras.Input((4,))
        hidden = keras.layers.BatchNormalization(momentum=0.9, name="bn")(keras.layers.Dense(6, name="h")(inputs))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(hidden))
        images, labels = IMAGES[:6] * 3 + 1, LABELS[:6]
        norms = {}
        for mode in ("inference", "training"):
            callback = telemetry.Telemetry(self.dir, kernels_of(model), self.END, self.PER_EPOCH, self.WINDOW, 2, 3,
                                           probe=(images, labels), test=None, gradient_mode=mode)
            callback.set_model(model)
            averages = [v.numpy().copy() for v in model.non_trainable_variables]
            norms[mode] = callback.gradient_norm()
            for before, variable in zip(averages, model.non_trainable_variables):
                self.assertAllEqual(variable.numpy(), before)
            with tf.GradientTape() as tape:
                loss = keras.losses.SparseCategoricalCrossentropy()(labels, model(images, training=mode == "training"))
            grads = tape.gradient(loss, model.trainable_weights)
            self.assertAllClose(norms[mode], float(tf.linalg.global_norm(grads)), rtol=1e-5)
        self.assertNotAllClose(norms["inference"], norms["training"])
        with self.assertRaisesRegex(ValueError, "gradient_mode"):
            telemetry.Telemetry(self.dir, kernels_of(model), 1, 1, 1, 1, 1, probe=(images, labels), test=None,
                                gradient_mode="train")

    def test_rows_reach_disk_at_checkpoint_steps_the_window_end_epoch_ends_and_the_end(self):
        model = classifier()
        _, on_disk = self.run_recording(model, self.make(model))
        self.assertEqual(on_disk[0], [0])
        self.assertEqual(on_disk[3], [0])  # 1-3 are kept in memory
        self.assertEqual(on_disk[4], [0, 1, 2, 3, 4])  # flush_every
        self.assertEqual(on_disk[5], [0, 1, 2, 3, 4, 5])  # the window's end
        self.assertEqual(on_disk[6][-1], 6)  # an epoch end
        self.assertEqual(on_disk[11][-1], 6)
        self.assertEqual(on_disk[12][-1], 12)
        self.assertEqual(on_disk[13][-1], 12)

    def test_distances_to_the_final_weights_of_the_kept_states(self):
        model = classifier()
        vectors, _ = self.run_recording(model, self.make(model))
        final_rows = csv_rows(rundir.at(self.dir).telemetry_final)
        self.assertEqual([int(r["step"]) for r in final_rows], [0, 3, 6, 12, 14])
        for row in final_rows:
            w, final = vectors[int(row["step"])].astype(np.float32).astype(np.float64), vectors[14]
            self.assertAllClose(float(row["l2_to_final"]), np.linalg.norm(w - final), rtol=1e-6, atol=1e-7)
            if int(row["step"]) < 14:
                self.assertAllClose(float(row["cosine_to_final"]),
                                    w @ final / np.linalg.norm(w) / np.linalg.norm(final), rtol=1e-6)
        self.assertEqual(os.listdir(os.path.join(rundir.at(self.dir).telemetry_dir, "states")), [])
        tb = os.path.join(self.dir, "tb", "telemetry")
        self.assertEqual(sorted(scalars(tb, "telemetry/l2_to_final")), [0, 3, 6, 12, 14])
        self.assertAllClose(scalars(tb, "telemetry/cosine_to_final")[3], float(final_rows[1]["cosine_to_final"]))

    def test_stopped_before_the_end_keeps_its_states_and_writes_no_final_distances(self):
        model = classifier()
        self.run_recording(model, self.make(model), end=3)
        self.assertFalse(os.path.exists(rundir.at(self.dir).telemetry_final))
        states = sorted(os.listdir(os.path.join(rundir.at(self.dir).telemetry_dir, "states")))
        self.assertEqual(states, ["step-0.npy", "step-3.npy"])
        self.assertEqual([int(r["step"]) for r in csv_rows(rundir.at(self.dir).telemetry)],
                         [0, 1, 2, 3])  # the end of training flushes the rows kept in memory

    def test_tensorboard_scalars_at_each_logged_step(self):
        model = classifier()
        self.run_recording(model, self.make(model))
        tb = os.path.join(self.dir, "tb", "telemetry")
        tags = tb_events.tags(tb)
        for name in ("mean_abs_weight", "sign_changed_pct", "grad_norm", "l2_to_init", "cosine_to_init",
                     "weight_0", "weight_3", "test_loss", "test_accuracy"):
            self.assertIn(f"telemetry/{name}", tags)
        self.assertNotIn("telemetry/step", tags)
        self.assertNotIn("telemetry/epoch", tags)
        rows = {int(r["step"]): r for r in csv_rows(rundir.at(self.dir).telemetry)}
        logged = scalars(tb, "telemetry/l2_to_init")
        self.assertEqual(sorted(logged), sorted(rows))
        for step, value in logged.items():
            self.assertAllClose(value, float(rows[step]["l2_to_init"]), rtol=1e-6)
        self.assertEqual(sorted(scalars(tb, "telemetry/test_loss")), [0, 2, 4, 6, 12, 14])

    def test_every_weight_is_tracked_when_there_are_fewer_than_asked(self):
        model = classifier()
        callback = self.make(model, num_weights=100)
        vectors, _ = self.run_recording(model, callback, end=1)
        row = csv_rows(rundir.at(self.dir).telemetry)[1]
        size = vectors[0].size
        self.assertAllClose([float(row[f"weight_{i}"]) for i in range(size)], vectors[1], rtol=1e-7)
        self.assertNotIn(f"weight_{size}", row)

    def test_the_seed_chooses_the_tracked_weights(self):
        first, second = self.make(classifier(), seed=1), self.make(classifier(), seed=2)
        for callback in (first, second):
            callback.step = 0
            callback.prepare()
        self.assertNotEqual(first.chosen.tolist(), second.chosen.tolist())
        self.assertEqual(first.chosen.tolist(), sorted(first.chosen.tolist()))

    def test_a_resumed_run_keeps_earlier_rows_and_measures_from_the_saved_initial_weights(self):
        model = classifier()
        weights_at_4 = {}

        def between(m, step):
            if step == 5:
                weights_at_4["w"] = m.get_weights()
            move(m, step)
        drive(self.make(model), model, 5, per_epoch=self.PER_EPOCH, between=between)
        kept = csv_rows(rundir.at(self.dir).telemetry)
        w0 = np.load(os.path.join(rundir.at(self.dir).telemetry_dir, "initial.npy"))
        # a restart from the checkpoint at step 4: the weights are w(4), the rows on disk go to 5
        resumed_model = classifier(iterations=4)
        resumed_model.set_weights(weights_at_4["w"])
        w4 = kernel_vector(resumed_model)
        callback = self.make(resumed_model)
        drive(callback, resumed_model, 6, start=4, per_epoch=self.PER_EPOCH)
        rows = csv_rows(rundir.at(self.dir).telemetry)
        self.assertEqual([int(r["step"]) for r in rows], [0, 1, 2, 3, 4, 5, 6])
        self.assertEqual(rows[:4], kept[:4])
        self.assertAllEqual(callback.initial, w0)
        self.assertAllClose(float(rows[4]["l2_to_init"]), np.linalg.norm(w4 - w0), rtol=1e-12)
        self.assertEqual(rows[4]["l2_to_init"], kept[4]["l2_to_init"])
        self.assertEqual(rows[4]["weight_2"], kept[4]["weight_2"])

    def test_a_resumed_run_without_its_initial_weights_starts_them_anew(self):
        model = classifier(iterations=3)
        callback = self.make(model)
        callback.set_model(model)
        callback.on_train_begin()
        self.assertAllClose(callback.initial, kernel_vector(model), rtol=0, atol=0)
        self.assertTrue(os.path.exists(os.path.join(rundir.at(self.dir).telemetry_dir, "initial.npy")))

    def test_a_second_fit_at_the_same_step_records_no_second_row(self):
        model = classifier()
        callback = self.make(model)
        callback.set_model(model)
        callback.on_train_begin()
        initial = callback.initial
        move(model, 1)
        callback.on_train_begin()  # the next fit segment, no step taken
        callback.on_train_end()
        self.assertIs(callback.initial, initial)
        self.assertEqual([r["step"] for r in csv_rows(rundir.at(self.dir).telemetry)], ["0"])


class GradientQuantilesTest(TempDirTestCase):
    # per_epoch 4, first_steps 2: logged at 0, 1, 2, 4, 8; flushed at 0, 2 (first_steps), 3k (flush_every), 4, 8.

    def make(self, model):
        return gradients.GradientQuantiles(self.dir, kernels_of(model), (IMAGES[:6], LABELS[:6]), first_steps=2,
                                           steps_per_epoch=4, flush_every=3)

    def test_quantile_row(self):
        row = gradients.quantile_row(np.arange(101, dtype=np.float32).reshape(1, 101)[:, ::-1])
        self.assertEqual(row, {"min": 0.0, "q05": 5.0, "q25": 25.0, "q50": 50.0, "q75": 75.0, "q95": 95.0,
                               "max": 100.0})

    def test_rows_per_layer_at_their_steps_are_the_quantiles_of_the_probe_gradient(self):
        model = classifier()
        expected, on_disk = {}, {}

        def between(m, step):
            on_disk[step - 1] = [r["step"] for r in csv_rows(rundir.at(self.dir).gradients)]
            expected[step - 1] = direct_gradients(m, list(kernels_of(m).values()))
            move(m, step)
        drive(self.make(model), model, 8, per_epoch=4, between=between)
        rows = csv_rows(rundir.at(self.dir).gradients)
        self.assertEqual([(r["step"], r["layer"]) for r in rows],
                         [(str(s), layer) for s in (0, 1, 2, 4, 8) for layer in ("hidden_1", "output")])
        for row in rows:
            step = int(row["step"])
            if step in expected:
                values = expected[step][0 if row["layer"] == "hidden_1" else 1].astype(np.float64)
                self.assertAllClose(float(row["epoch"]), step / 4)
                self.assertAllClose([float(row[k]) for k in gradients.QUANTILES],
                                    np.quantile(values, list(gradients.QUANTILES.values())), rtol=1e-5, atol=1e-9)
        self.assertEqual(on_disk[1], ["0", "0"])
        self.assertEqual(on_disk[2], ["0", "0", "1", "1", "2", "2"])  # the last of the first steps
        self.assertEqual(on_disk[5][-1], "4")  # an epoch end
        tb = os.path.join(self.dir, "tb", "gradients")
        self.assertEqual(tb_events.tags(tb), {"gradients/hidden_1/kernel", "gradients/output/kernel"})
        steps_seen = sorted({e.step for e in tb_events.events(tb) if e.summary.value})
        self.assertEqual(steps_seen, [0, 1, 2, 4, 8])

    def test_flushes_at_checkpoint_steps_too(self):
        callback = self.make(classifier())
        self.assertEqual([s for s in range(10) if callback.flushes_at(s)], [0, 2, 3, 4, 6, 8, 9])


class WeightImagesTest(TempDirTestCase):

    def reference(self, model):
        return ReferenceWeights({f"{layer.name}/{w}": getattr(layer, w) for layer in model.layers
                                 if hasattr(layer, "kernel") for w in ("kernel", "bias")})

    def test_kernel_index_must_name_a_kernel(self):
        initial = self.reference(classifier())
        for index in (-1, 2):
            with self.assertRaisesRegex(ValueError, r"kernel index .* out of range 0\.\.1"):
                weight_images.WeightImages(initial, self.dir, kernel_index=index)
        self.assertEqual(weight_images.WeightImages(initial, self.dir, kernel_index=0).index, 0)
        self.assertEqual(weight_images.WeightImages(initial, self.dir, kernel_index=1).index, 2)  # skips a bias

    def test_image_is_abs_weight_over_the_initial_maximum_clipped_to_one(self):
        model = classifier()
        initial = self.reference(model)
        callback = weight_images.WeightImages(initial, self.dir, kernel_index=1)
        w0 = model.get_layer("output").kernel.numpy()
        scale = np.abs(w0).max()
        self.assertAllClose(callback.image()[0, :, :, 0], np.abs(w0) / scale)
        model.get_layer("output").kernel.assign(-2 * w0)
        self.assertAllClose(callback.image()[0, :, :, 0], np.minimum(2 * np.abs(w0) / scale, 1.0))
        self.assertEqual(callback.image().shape, (1, 5, 3, 1))
        model.get_layer("hidden_1").kernel.assign(tf.zeros((4, 5)))
        zero = weight_images.WeightImages(self.reference(model), self.dir, kernel_index=0)
        self.assertEqual(zero.scale, 1.0)
        model.get_layer("hidden_1").kernel.assign(tf.fill((4, 5), -0.5))
        self.assertAllClose(zero.image(), np.full((1, 4, 5, 1), 0.5))

    def test_conv_kernels_are_drawn_as_inputs_by_outputs(self):
        conv = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 2, name="conv")])
        callback = weight_images.WeightImages(ReferenceWeights({"conv/kernel": conv.layers[0].kernel}), self.dir,
                                              kernel_index=0)
        self.assertEqual(callback.image().shape, (1, 8, 3, 1))

    def test_images_and_deviation_histograms_at_epochs(self):
        model = classifier()
        callback = weight_images.WeightImages(self.reference(model), self.dir, kernel_index=1)
        output0 = model.get_layer("output").kernel.numpy()

        def shift(m, step):
            m.get_layer("hidden_1").kernel.assign_add(tf.fill((4, 5), 0.25))
        drive(callback, model, 4, per_epoch=2, between=shift)
        tags = tb_events.tags(self.dir)
        self.assertEqual(tags, {"weights/output", "deviation/hidden_1/kernel", "deviation/hidden_1/bias",
                                "deviation/output/kernel", "deviation/output/bias"})
        by_step = {}
        for event in tb_events.events(self.dir):
            for value in event.summary.value:
                by_step.setdefault(value.tag, {})[event.step] = tf.make_ndarray(value.tensor)
        self.assertEqual(sorted(by_step["weights/output"]), [0, 1, 2])  # w(0), then completed epochs
        histogram = by_step["deviation/hidden_1/kernel"][2]  # rows of (left edge, right edge, count)
        self.assertEqual(histogram[:, 2].sum(), 20)
        self.assertAllClose([histogram[0, 0], histogram[-1, 1]], [1.0, 1.0], atol=1e-6)  # every entry moved by 4 x 0.25
        unmoved = by_step["deviation/output/kernel"][2][:, :2]
        self.assertAllEqual(unmoved, np.zeros_like(unmoved))
        png = tf.io.decode_png(by_step["weights/output"][0][2]).numpy()[:, :, 0]
        self.assertAllClose(png / 255.0, np.abs(output0) / np.abs(output0).max(), atol=1 / 255)

    def test_no_histograms_when_asked_and_no_step_zero_on_resume(self):
        model = classifier(iterations=6)
        callback = weight_images.WeightImages(self.reference(model), self.dir, kernel_index=0, histograms=False)
        drive(callback, model, 8, start=6, per_epoch=2)
        self.assertEqual(tb_events.tags(self.dir), {"weights/hidden_1"})
        self.assertEqual(sorted({e.step for e in tb_events.events(self.dir) if e.summary.value}), [4])

    def test_a_second_fit_writes_through_a_new_writer(self):
        model = classifier()
        callback = weight_images.WeightImages(self.reference(model), self.dir, kernel_index=0)
        drive(callback, model, 2, per_epoch=2)
        self.assertIsNone(callback._writer)
        model.optimizer.iterations.assign(2)
        drive(callback, model, 4, start=2, per_epoch=2)
        self.assertLen(os.listdir(self.dir), 2)
        self.assertEqual(sorted({e.step for e in tb_events.events(self.dir) if e.summary.value}), [0, 1, 2])


class HeldOutEvaluationTest(tf.test.TestCase):

    def test_validation_metrics_in_the_epoch_logs(self):
        model = classifier()
        callback = validation.HeldOutEvaluation(pipeline.eval_batches(Split(IMAGES, LABELS)))
        callback.set_model(model)
        callback.on_epoch_end(0, None)  # nothing to write into
        logs = {"loss": 1.0}
        callback.on_epoch_end(0, logs)
        loss, accuracy = direct_loss_and_accuracy(model, IMAGES, LABELS)
        self.assertAllClose(logs["validation_loss"], loss, rtol=1e-5)
        self.assertAllClose(logs["validation_accuracy"], accuracy)
        self.assertEqual(logs["loss"], 1.0)
        self.assertIsInstance(logs["validation_loss"], float)

    def test_one_hot_labels_for_a_categorical_loss(self):
        model = classifier(loss=keras.losses.CategoricalCrossentropy())
        callback = validation.HeldOutEvaluation(pipeline.eval_batches(Split(IMAGES, LABELS), num_classes=3))
        callback.set_model(model)
        logs = {}
        callback.on_epoch_end(0, logs)
        self.assertAllClose(logs["validation_loss"], direct_loss_and_accuracy(model, IMAGES, LABELS)[0], rtol=1e-5)


class CorrelationLoggerTest(tf.test.TestCase):

    def test_forward_and_backward_correlations_per_layer(self):
        kernel = tf.Variable(RNG.normal(size=(4, 3)).astype(np.float32))
        conv = tf.Variable(RNG.normal(size=(2, 2, 3, 5)).astype(np.float32))
        kernels = {"block/fc/kernel": kernel, "conv/kernel": conv}
        for kind in correlations.KINDS:
            values = kernel_correlations(kernels, kind)
            self.assertEqual(values, {"corr_fwd/block/fc": correlations.forward(kernel.numpy(), kind),
                                      "corr_bwd/block/fc": correlations.backward(kernel.numpy(), kind),
                                      "corr_fwd/conv": correlations.forward(conv.numpy(), kind),
                                      "corr_bwd/conv": correlations.backward(conv.numpy(), kind)})
        self.assertNotEqual(kernel_correlations(kernels, "cosine"), kernel_correlations(kernels))
        self.assertEqual(kernel_correlations(kernels), kernel_correlations(kernels, "pearson"))

    def test_the_logger_adds_them_to_the_epoch_logs(self):
        kernels = {"fc/kernel": tf.Variable(RNG.normal(size=(4, 3)).astype(np.float32))}
        logger = CorrelationLogger(kernels, "cosine")
        logger.on_epoch_end(0, None)
        logs = {"loss": 2.0}
        logger.on_epoch_end(0, logs)
        self.assertEqual(logs, {"loss": 2.0, **kernel_correlations(kernels, "cosine")})
        pearson = {}
        CorrelationLogger(kernels).on_epoch_end(0, pearson)
        self.assertEqual(pearson, kernel_correlations(kernels, "pearson"))


class SymmetryPerturbationTest(tf.test.TestCase):

    def model(self):
        keras.utils.set_random_seed(5)
        inputs = keras.Input((4,))
        features = keras.layers.Dense(6, activation="relu", name="features")(inputs)
        frozen = keras.layers.Lambda(keras.ops.stop_gradient, name="frozen")(features)
        top = keras.layers.Dense(6, activation="relu", name="top")(frozen)
        dropped = keras.layers.Dropout(0.5, seed=1, name="dropout")(top)  # the probe must run in inference mode
        outputs = keras.layers.Dense(3, activation="softmax", name="output")(dropped)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy())
        return model

    def test_ratios_of_features_and_of_their_gradients(self):
        model = self.model()
        callback = perturbation.SymmetryPerturbation(IMAGES, LABELS, ["features", "top"])
        callback.set_model(model)
        callback.on_epoch_end(0, None)
        logs = {}
        callback.on_epoch_end(0, logs)
        self.assertEqual(sorted(logs), ["perturb/features", "perturb/top", "perturb_grad/features", "perturb_grad/top"])
        probe = keras.Model(model.inputs, [model.get_layer("features").output, model.get_layer("top").output,
                                           model.output])
        with tf.GradientTape() as tape:
            features, top, probabilities = probe(IMAGES, training=False)
            loss = keras.losses.SparseCategoricalCrossentropy()(LABELS, probabilities)
        top_gradient = tape.gradient(loss, top).numpy().astype(np.float64)

        def ratio(h):
            h = np.asarray(h, np.float64)
            return np.linalg.norm(h - h.mean(-1, keepdims=True)) / np.linalg.norm(h)
        self.assertAllClose(logs["perturb/features"], ratio(features), rtol=1e-6)
        self.assertAllClose(logs["perturb/top"], ratio(top), rtol=1e-6)
        self.assertAllClose(logs["perturb_grad/top"], ratio(top_gradient), rtol=1e-6)
        self.assertTrue(np.isnan(logs["perturb_grad/features"]))  # no gradient flows back through stop_gradient
        first_probe = callback._probe
        callback.on_epoch_end(1, logs)
        self.assertIs(callback._probe, first_probe)


class OutputsAndDefaultsTest(TempDirTestCase):
    """The files the README names, the defaults, and the window's last step."""

    def test_file_names_in_the_run_directory(self):
        self.assertEqual(rundir.at("run").gradients, os.path.join("run", "gradients.csv"))
        self.assertEqual(rundir.at("run").telemetry, os.path.join("run", "telemetry.csv"))
        self.assertEqual(rundir.at("run").telemetry_final, os.path.join("run", "telemetry_final.csv"))
        self.assertEqual(rundir.at("run").telemetry_dir, os.path.join("run", "telemetry"))

    def test_quantiles_are_taken_in_float64(self):
        values = np.array([2.0 ** 24, 2.0 ** 24 + 2.0], np.float32)  # the median, 2^24 + 1, is not a float32
        self.assertEqual(gradients.quantile_row(values)["q50"], 2.0 ** 24 + 1.0)

    def test_defaults(self):
        model = classifier()
        probe = (IMAGES[:2], LABELS[:2])
        self.assertEqual([s for s in range(9) if gradients.GradientQuantiles(self.dir, kernels_of(model), probe, 1, 4)
                          .flushes_at(s)], [0, 1, 4, 8])  # no checkpoint interval: epoch ends
        callback = telemetry.Telemetry(self.dir, kernels_of(model), 8, 4, window=2, eval_every=1, state_every=1,
                                       probe=probe, test=None)
        self.assertEqual([s for s in range(9) if callback.flushes_at(s)], [0, 2, 4, 8])
        callback.step = 0
        callback.prepare()
        self.assertEqual(callback.chosen.tolist(),
                         sorted(np.random.default_rng(0).choice(35, size=10, replace=False).tolist()))
        initial = ReferenceWeights({f"{l}/{w}": getattr(model.get_layer(l), w) for l in ("hidden_1", "output")
                                    for w in ("kernel", "bias")})
        self.assertEqual(weight_images.WeightImages(initial, self.dir).index, 2)  # the second kernel

    def test_the_windows_last_step_is_evaluated_and_kept(self):
        model = classifier()
        callback = telemetry.Telemetry(self.dir, kernels_of(model), 20, 10, window=4, eval_every=2, state_every=4,
                                       probe=(IMAGES[:2], LABELS[:2]),
                                       test=tf.data.Dataset.from_tensor_slices((IMAGES, LABELS)).batch(5))
        drive(callback, model, 5, per_epoch=10)
        rows = csv_rows(rundir.at(self.dir).telemetry)
        self.assertEqual([int(r["step"]) for r in rows if r["test_loss"]], [0, 2, 4])
        states = os.path.join(rundir.at(self.dir).telemetry_dir, "states")
        self.assertEqual(sorted(os.listdir(states)), ["step-0.npy", "step-4.npy"])
        self.assertEqual(np.load(os.path.join(states, "step-4.npy")).dtype, np.float32)  # half the disk of float64

    def test_a_fresh_run_replaces_stale_initial_weights(self):
        os.makedirs(rundir.at(self.dir).telemetry_dir)
        np.save(os.path.join(rundir.at(self.dir).telemetry_dir, "initial.npy"), np.zeros(35))
        model = classifier()
        callback = telemetry.Telemetry(self.dir, kernels_of(model), 8, 4, window=2, eval_every=1, state_every=1,
                                       probe=(IMAGES[:2], LABELS[:2]), test=None)
        callback.step = 0
        callback.prepare()
        self.assertAllEqual(callback.initial, kernel_vector(model))
        self.assertAllEqual(np.load(os.path.join(rundir.at(self.dir).telemetry_dir, "initial.npy")),
                            kernel_vector(model))

    def test_held_out_evaluation_prints_nothing(self):
        import contextlib
        import io
        model = classifier()
        callback = validation.HeldOutEvaluation(pipeline.eval_batches(Split(IMAGES, LABELS)))
        callback.set_model(model)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            callback.on_epoch_end(0, {})
        self.assertEqual(printed.getvalue(), "")

    def test_a_step_log_acts_where_it_logs_and_flushes_at_epoch_ends_by_default(self):
        from keras_initstudy.callbacks.step_log import StepLog

        class EveryThird(StepLog):
            def logs_at(self, step):
                return step % 3 == 0
        log = EveryThird(os.path.join(self.dir, "x.csv"), self.dir, steps_per_epoch=4)
        self.assertEqual([s for s in range(10) if log.acts_at(s)], [0, 3, 6, 9])
        self.assertEqual([s for s in range(10) if log.flushes_at(s)], [0, 4, 8])
