"""training.train in-process: complete run dirs, bit-identical reruns, exact resume."""
import json
import os
from unittest import mock

import keras
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from keras_initstudy import callbacks, config, rundir, train_runner, training, training_state
from tests import tb_events
from tests.helpers import InterruptAtEpoch

SMALL = dict(width=16, epochs=3, nondeterminism="deterministic")
STEPS_PER_EPOCH = 47  # fashion_mnist_mini: 6,000 images in batches of 128


def final_weights(run_dir):
    return [w.numpy() for w in keras.models.load_model(rundir.at(run_dir).model).weights]


class TrainingTest(tf.test.TestCase):

    def tearDown(self):
        tf_config.disable_op_determinism()  # process-wide; keep other tests independent
        super().tearDown()

    def cfg(self, **kw):
        return config.ExperimentConfig().replace(**{"output_dir": self.get_temp_dir(), **SMALL, **kw})

    def test_run_directory_is_complete(self):
        run_dir = train_runner.run(self.cfg(), verbose=0)
        for path in (rundir.at(run_dir).flags, rundir.at(run_dir).config, rundir.at(run_dir).history,
                     rundir.at(run_dir).model, rundir.at(run_dir).done):
            self.assertTrue(os.path.exists(path), path)
        rows = callbacks.read_history(rundir.at(run_dir).history)
        self.assertEqual([int(r["epoch"]) for r in rows], [1, 2, 3])
        self.assertContainsSubset({"loss", "accuracy", "test_loss", "test_accuracy", "wall_time"}, rows[0])
        self.assertLess(float(rows[-1]["loss"]), float(rows[0]["loss"]))
        for split in ("train", "validation"):  # Keras's name for the held-out (here: test) split
            self.assertContainsSubset({"epoch_loss", "epoch_accuracy"},
                                      tb_events.tags(os.path.join(rundir.at(run_dir).tensorboard, split)))
            # one clock (issue 24.7): step = epochs completed, for scalars as for the weight images
            self.assertEqual(tb_events.steps(os.path.join(rundir.at(run_dir).tensorboard, split), "epoch_accuracy"),
                             [1, 2, 3])
        self.assertEmpty([f for f in os.listdir(run_dir) if f.startswith(".tmp-")])
        with open(rundir.at(run_dir).summary) as f:
            result = json.load(f)
        accuracies = [float(r["test_accuracy"]) for r in rows]
        self.assertEqual(result["final_test_accuracy"], accuracies[-1])
        self.assertEqual(result["best_test_accuracy"], max(accuracies))
        self.assertEqual(result["best_test_epoch"], 1 + accuracies.index(max(accuracies)))

    def test_finished_run_is_not_redone(self):
        cfg = self.cfg(epochs=1)
        run_dir = train_runner.run(cfg, verbose=0)
        stamp = os.path.getmtime(rundir.at(run_dir).model)
        self.assertEqual(train_runner.run(cfg, verbose=0), run_dir)
        self.assertEqual(os.path.getmtime(rundir.at(run_dir).model), stamp)

    def test_same_seed_deterministic_runs_are_bit_identical(self):
        a = train_runner.run(self.cfg(output_dir=os.path.join(self.get_temp_dir(), "a")), verbose=0)
        b = train_runner.run(self.cfg(output_dir=os.path.join(self.get_temp_dir(), "b")), verbose=0)
        for wa, wb in zip(final_weights(a), final_weights(b)):
            self.assertAllEqual(wa, wb)

    def test_steps_per_execution_does_not_change_results(self):
        one = train_runner.run(self.cfg(steps_per_execution="1", output_dir=os.path.join(self.get_temp_dir(), "1")),
                             verbose=0)
        auto = train_runner.run(self.cfg(output_dir=os.path.join(self.get_temp_dir(), "auto")), verbose=0)
        for wa, wb in zip(final_weights(one), final_weights(auto)):
            self.assertAllEqual(wa, wb)
        rows, expected = (callbacks.read_history(rundir.at(d).history) for d in (auto, one))
        for row, want in zip(rows, expected):
            self.assertEqual({k: v for k, v in row.items() if k != "wall_time"},
                             {k: v for k, v in want.items() if k != "wall_time"})

    def test_different_seeds_differ(self):
        a = train_runner.run(self.cfg(epochs=1, output_dir=os.path.join(self.get_temp_dir(), "a")), verbose=0)
        b = train_runner.run(self.cfg(epochs=1, seed=1, output_dir=os.path.join(self.get_temp_dir(), "b")),
                           verbose=0)
        self.assertNotAllEqual(final_weights(a)[0], final_weights(b)[0])

    def test_interrupted_run_resumes_to_the_uninterrupted_weights(self):
        whole = train_runner.run(self.cfg(output_dir=os.path.join(self.get_temp_dir(), "whole")), verbose=0)
        cut = self.cfg(output_dir=os.path.join(self.get_temp_dir(), "cut"))
        with self.assertRaises(KeyboardInterrupt):
            train_runner.run(cut, extra_callbacks=[InterruptAtEpoch(2)], verbose=0)
        run_dir = rundir.path_for(cut)
        self.assertFalse(rundir.at(run_dir).is_done())
        self.assertLen(callbacks.read_history(rundir.at(run_dir).history), 2)
        train_runner.run(cut, verbose=0)
        for wa, wb in zip(final_weights(whole), final_weights(run_dir)):
            self.assertAllEqual(wa, wb)
        rows = callbacks.read_history(rundir.at(run_dir).history)
        whole_rows = callbacks.read_history(rundir.at(whole).history)
        self.assertEqual([r["epoch"] for r in rows], ["1", "2", "3"])
        for column in ("loss", "test_loss", "rmsd", "rmsd/hidden_2"):
            self.assertEqual([r[column] for r in rows], [r[column] for r in whole_rows], column)

    def test_checkpoint_keeps_only_the_last_state(self):
        run_dir = train_runner.run(self.cfg(), verbose=0)
        files = sorted(os.listdir(rundir.at(run_dir).checkpoints))
        self.assertEqual(files, ["state.json", "state.weights.h5"])
        self.assertEqual(training_state.read_step(rundir.at(run_dir).checkpoints, "state"), 3 * STEPS_PER_EPOCH)


if __name__ == "__main__":
    tf.test.main()


class OrderingTest(tf.test.TestCase):
    """The README's ordering promises: an epoch's history row is written before the
    checkpoint that would skip it on resume; DONE is written after the model and summary."""

    def test_recording_callbacks_put_history_before_the_checkpoint(self):
        cfg = config.ExperimentConfig()
        recording = training.recording_callbacks(self.get_temp_dir(), cfg, steps_per_epoch=10, start=0)
        self.assertEqual([type(c).__name__ for c in recording], ["EpochsDoneTensorBoard", "HistoryCSV", "Checkpoint"])

    def test_done_is_written_last(self):
        run_dir = os.path.join(self.get_temp_dir(), "finish")
        os.makedirs(run_dir)
        rundir.write_rows(rundir.at(run_dir).history, [{"epoch": 1, "test_accuracy": 0.5}])
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        seen = {}

        def mark_done(self):
            seen["files"] = sorted(os.listdir(self))
            real_mark_done(self)

        real_mark_done = rundir.RunDir.mark_done
        with mock.patch.object(rundir.RunDir, "mark_done", mark_done):
            training.finish(run_dir, model)
        self.assertEqual(seen["files"], ["history.csv", "model.keras", "summary.json"])
        self.assertTrue(rundir.at(run_dir).is_done())
