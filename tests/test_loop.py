"""Time in steps: the loop from step a to b, save points, rewinds and mid-epoch resumes.

Every run here is deterministic (op determinism on), so 'the same' means bit-identical.
fashion_mnist_mini has 47 steps per epoch at batch 128, so 20it, 30it and 70it fall
inside epochs.
"""
import contextlib
import io
import os

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized
from tensorflow.python.framework import config as tf_config

from keras_initstudy import (callbacks, config, datasets, determinism, errors, loop, pipeline, rundir,
                             train_runner, training, training_state)
from keras_initstudy.callbacks import checkpoint
from tests.helpers import InterruptAtStep

PER_EPOCH = 47
BASE = dict(width=16, nondeterminism="deterministic", optimizer="sgd", momentum=0.9, learning_rate=0.05,
            weight_images=False, correlations=False)


class OptimizerStateAt(callbacks.StepCallback):
    """Copies the optimizer's variables after step `at`."""

    def __init__(self, at):
        super().__init__()
        self.at, self.values = at, None

    def on_step(self, step):
        if step == self.at:
            self.values = [v.numpy().copy() for v in self.model.optimizer.variables]


def final_weights(run_dir):
    return [w.numpy() for w in keras.models.load_model(rundir.at(run_dir).model).weights]


class ActsEvery(callbacks.StepCallback):
    """Acts at multiples of `every`, recording the steps on_step saw there."""

    def __init__(self, every):
        super().__init__()
        self.every, self.seen = every, []

    def acts_at(self, step):
        return step % self.every == 0

    def on_step(self, step):
        if self.acts_at(step):
            self.seen.append(step)


class ExecutionStrideTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(
        ((), 0, 48, 12, 12),          # nothing acts mid-epoch: every epoch end ends a call
        ((), 0, 12, 12, 12),
        ((4,), 0, 48, 12, 4),
        ((6, 4), 0, 48, 12, 2),
        ((4,), 5, 12, 12, 1),         # a partial epoch from step 5: step 8 is 3 steps in
        ((7,), 0, 47, 47, 1),         # 47 is prime: 7 does not divide it
        ((3,), 3, 12, 12, 3))
    def test_stride_ends_a_call_at_every_acting_step(self, everies, a, b, per_epoch, expected):
        stride = loop.execution_stride([ActsEvery(e) for e in everies], a, b, per_epoch)
        self.assertEqual(stride, expected)
        for every in everies:
            for s in range(a + 1, b):
                if s % every == 0:
                    self.assertEqual((s - a) % stride, 0)

    def test_keras_callbacks_act_by_their_batch_hooks(self):
        self.assertFalse(callbacks.clock.acts_at(keras.callbacks.TensorBoard(log_dir=self.get_temp_dir()), 3))
        self.assertTrue(callbacks.clock.acts_at(
            keras.callbacks.TensorBoard(log_dir=self.get_temp_dir(), update_freq=5), 3))
        self.assertTrue(callbacks.clock.acts_at(keras.callbacks.TerminateOnNaN(), 3))
        self.assertFalse(callbacks.clock.acts_at(keras.callbacks.Callback(), 3))

    def test_the_console_names_the_test_split_test(self):
        """Issue 24.7: fit validates on the test split, so the progress bar says test_, not val_."""
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        batches = tf.data.Dataset.from_tensor_slices((np.ones((8, 3), np.float32), np.zeros(8, np.int64))).batch(4)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            loop.train_steps(model, lambda a, b: batches.repeat().take(b - a), 0, 4, 2, validation_data=batches,
                             verbose=2)
        self.assertIn("test_accuracy: ", printed.getvalue())
        self.assertNotIn("val_", printed.getvalue())

    def test_grouped_steps_reach_callbacks_at_their_steps(self):
        cfg = config.ExperimentConfig().replace(output_dir=self.get_temp_dir(), **BASE)
        data = datasets.load("fashion_mnist_mini")
        spec = training.build(cfg, data.info, PER_EPOCH)
        every_five = ActsEvery(5)
        history = callbacks.HistoryCSV(os.path.join(self.get_temp_dir(), "h.csv"), PER_EPOCH)
        loop.train_steps(spec.model, lambda a, b: training.train_stream(cfg, data, a, b), 0, 100, PER_EPOCH,
                         callbacks=[every_five, history])
        self.assertEqual(every_five.seen, list(range(5, 101, 5)))
        self.assertEqual([r["step"] for r in history.rows], [47, 94, 100])
        self.assertEqual(int(spec.model.optimizer.iterations.numpy()), 100)


class SegmentsTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(
        (0, 94, [(0, 94)]), (30, 94, [(30, 47), (47, 94)]), (0, 70, [(0, 47), (47, 70)]),
        (30, 40, [(30, 40)]), (30, 200, [(30, 47), (47, 188), (188, 200)]), (47, 47, []))
    def test_segments_lie_in_one_epoch_or_cover_whole_epochs(self, start, end, expected):
        self.assertEqual(loop.segments(start, end, PER_EPOCH), expected)

    def test_bad_range(self):
        with self.assertRaises(ValueError):
            loop.segments(5, 2, PER_EPOCH)


class StepTimeTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = datasets.load("fashion_mnist_mini")
        cls.out = os.path.join(tf.compat.v1.test.get_temp_dir(), "steptime")
        cls.cfg = config.ExperimentConfig().replace(output_dir=cls.out, steps=70, save_points="0it,30it",
                                                    snapshots="20it,30it", **BASE)
        cls.at_30 = OptimizerStateAt(30)
        cls.whole = train_runner.run(cls.cfg, extra_callbacks=[cls.at_30], verbose=0, dataset=cls.data)

    def tearDown(self):
        tf_config.disable_op_determinism()  # process-wide; keep other tests independent
        super().tearDown()

    def test_a_run_can_end_mid_epoch(self):
        rows = callbacks.read_history(rundir.at(self.whole).history)
        self.assertEqual([int(r["step"]) for r in rows], [47, 70])
        self.assertEqual([r["epoch"] for r in rows], ["1", str(round(70 / 47, 6))])
        self.assertIn("test_accuracy", rows[-1])  # evaluated at the end of training
        self.assertEqual(int(final_model(self.whole).optimizer.iterations.numpy()), 70)

    def test_save_point_holds_the_weights_after_exactly_k_updates(self):
        folder = rundir.at(self.whole).save_points
        self.assertEqual(checkpoint.save_point_steps(folder), [0, 30])
        spec = training.build(self.cfg, self.data.info, PER_EPOCH)
        self.assertEqual(callbacks.load_save_point(spec.model, folder, 30), 30)
        snapshot = np.load(rundir.at(self.whole).snapshot_at(steps_of(30)))
        for name, variable in spec.weight_variables(include_biases=True).items():
            self.assertAllEqual(variable.numpy(), snapshot[name])
        self.assertEqual(int(spec.model.optimizer.iterations.numpy()), 30)
        for restored, saved in zip(spec.model.optimizer.variables, self.at_30.values):
            self.assertAllEqual(restored.numpy(), saved)  # momentum buffers and iteration count

    def test_rewind_to_step_k_continues_bit_identically(self):
        determinism.set_op_determinism(True)  # as run() does for this config
        spec = training.build(self.cfg, self.data.info, PER_EPOCH)
        callbacks.load_save_point(spec.model, rundir.at(self.whole).save_points, 30)
        seed = self.cfg.training.seeds.data

        def stream(a, b):
            return pipeline.train_stream(self.data.train, 128, seed, a, b)

        loop.train_steps(spec.model, stream, 30, 70, PER_EPOCH)
        for rewound, uninterrupted in zip(spec.model.weights, final_weights(self.whole)):
            self.assertAllEqual(rewound.numpy(), uninterrupted)

    def test_the_loop_refuses_a_model_at_another_step(self):
        spec = training.build(self.cfg, self.data.info, PER_EPOCH)
        with self.assertRaisesRegex(ValueError, "at step 0, not at the start step 30"):
            loop.train_steps(spec.model, None, 30, 70, PER_EPOCH)

    def test_resume_from_a_mid_epoch_checkpoint_is_exact(self):
        cut = self.cfg.replace(output_dir=os.path.join(self.out, "cut"), checkpoint_every="20it")
        with self.assertRaises(KeyboardInterrupt):
            train_runner.run(cut, extra_callbacks=[InterruptAtStep(50)], verbose=0, dataset=self.data)
        run_dir = rundir.path_for(cut)
        self.assertEqual(training_state.read_step(rundir.at(run_dir).checkpoints, "state"), 40)
        train_runner.run(cut, verbose=0, dataset=self.data)
        for resumed, uninterrupted in zip(final_weights(run_dir), final_weights(self.whole)):
            self.assertAllEqual(resumed, uninterrupted)
        rows, whole_rows = (callbacks.read_history(rundir.at(d).history) for d in (run_dir, self.whole))
        self.assertEqual([r["step"] for r in rows], [r["step"] for r in whole_rows])
        for column in ("test_loss", "test_accuracy", "rmsd"):
            self.assertEqual([r[column] for r in rows], [r[column] for r in whole_rows], column)

    def test_init_and_data_seeds_are_separate(self):
        other_data = train_runner.run(self.cfg.replace(data_seed=5, save_points="", output_dir=os.path.join(
            self.out, "data5")), verbose=0, dataset=self.data)
        w0 = np.load(rundir.at(self.whole).snapshot(0))
        w0_other = np.load(rundir.at(other_data).snapshot(0))
        for name in w0.files:
            self.assertAllEqual(w0[name], w0_other[name])  # same initialisation...
        self.assertNotAllEqual(final_weights(self.whole)[0], final_weights(other_data)[0])  # ...other data order


def steps_of(iteration):
    from keras_initstudy import steps
    return steps.Step(iteration, PER_EPOCH)


def final_model(run_dir):
    return keras.models.load_model(rundir.at(run_dir).model)


class ResumeAndInstrumentsTest(tf.test.TestCase):

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def cfg(self, **kw):
        return config.ExperimentConfig().replace(**{"output_dir": self.get_temp_dir(), "epochs": 3, **BASE, **kw})

    def test_dropout_runs_resume_exactly(self):
        """Dropout's seed generators are part of the checkpoint (Keras's save_weights omits them)."""
        whole = train_runner.run(self.cfg(dropout=0.2, output_dir=os.path.join(self.get_temp_dir(), "w")), verbose=0)
        cut = self.cfg(dropout=0.2, output_dir=os.path.join(self.get_temp_dir(), "c"))
        with self.assertRaises(KeyboardInterrupt):
            train_runner.run(cut, extra_callbacks=[InterruptAtStep(2 * PER_EPOCH + 3)], verbose=0)
        train_runner.run(cut, verbose=0)
        for resumed, uninterrupted in zip(final_weights(rundir.path_for(cut)), final_weights(whole)):
            self.assertAllEqual(resumed, uninterrupted)

    def test_instruments_do_not_change_the_training(self):
        bare = self.cfg(rmsd=False, snapshots="none", output_dir=os.path.join(self.get_temp_dir(), "bare"))
        measured = self.cfg(weight_images=True, correlations=True, rmsd_every_steps=7, snapshots="0,5it,1,2",
                            save_points="0it,10it", perturbation_layers="hidden_1",
                            output_dir=os.path.join(self.get_temp_dir(), "measured"))
        self.assertEqual(bare.run_name(), measured.run_name())
        for a, b in zip(final_weights(train_runner.run(bare, verbose=0)), final_weights(train_runner.run(measured,
                                                                                                  verbose=0))):
            self.assertAllEqual(a, b)

    def test_a_rerun_with_other_instruments_says_what_it_does(self):
        cfg = self.cfg(epochs=1)
        run_dir = train_runner.run(cfg, verbose=0)
        stamp = os.path.getmtime(rundir.at(run_dir).model)
        with _captured() as out:
            self.assertEqual(train_runner.run(cfg.replace(rmsd_every_steps=5), verbose=0), run_dir)
        self.assertIn("run already complete", out.getvalue())
        self.assertIn("rmsd_every_steps: 0 -> 5", out.getvalue())
        self.assertIn("nothing new is recorded", out.getvalue())
        self.assertEqual(os.path.getmtime(rundir.at(run_dir).model), stamp)

    def test_an_unfinished_run_refuses_other_instruments(self):
        cfg = self.cfg(output_dir=os.path.join(self.get_temp_dir(), "unfinished"))
        with self.assertRaises(KeyboardInterrupt):
            train_runner.run(cfg, extra_callbacks=[InterruptAtStep(PER_EPOCH + 1)], verbose=0)
        with self.assertRaisesRegex(errors.UserError, "started with other instruments.*snapshots"):
            train_runner.run(cfg.replace(snapshots="none"), verbose=0)


def _captured():
    import contextlib
    import io
    buffer = io.StringIO()

    @contextlib.contextmanager
    def capture():
        with contextlib.redirect_stdout(buffer):
            yield buffer
    return capture()


if __name__ == "__main__":
    tf.test.main()
