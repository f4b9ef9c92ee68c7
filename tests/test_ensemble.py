"""Seed ensembles (keras_initstudy/ensemble/): each member is the single run with its seeds.

The class fixture trains three seeds as single runs and as one K = 3 ensemble (through
the sweep), with op determinism, and compares their run directories.
"""
import glob
import math
import os
import shutil

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from absl.testing import parameterized
from tensorflow.python.framework import config as tf_config

from keras_initstudy import callbacks, config, datasets, grid, pipeline, rundir, runners, sweep, train_runner, training
from keras_initstudy.analysis import regimes
from keras_initstudy.ensemble import fanout, grouping, layers, stack, strategy
from tests import tb_events
from tests.class_tempdir import ClassTempDirTestCase
from tests.helpers import InterruptAtEpoch

SMALL = dict(width=16, epochs=2, nondeterminism="deterministic", snapshots="0,1,2", rmsd_every_steps=10)
SEEDS = (0, 1, 2)
STEPS_PER_EPOCH = 47  # fashion_mnist_mini: 6,000 images in batches of 128


def seed_configs(out, **kw):
    base = config.ExperimentConfig().replace(output_dir=out, **{**SMALL, **kw})
    return grid.expand(base, grid.parse_axes([f"seed={','.join(map(str, SEEDS))}"]))


def final_weights(run_dir):
    return [w.numpy() for w in keras.models.load_model(rundir.at(run_dir).model).weights]


def history(run_dir):
    return callbacks.read_history(rundir.at(run_dir).history)


def files_of(run_dir):
    """Relative paths, TensorBoard event files by folder only (their names hold host and time)."""
    found = set()
    for path in glob.glob(os.path.join(run_dir, "**", "*"), recursive=True):
        rel = os.path.relpath(path, run_dir)
        found.add(os.path.dirname(rel) + "/<events>" if "tfevents" in rel else rel)
    return found


class InjectNaN(keras.callbacks.Callback):
    """Sets member `index`'s output kernel to NaN before epoch `at` (0-based) of the ensemble."""

    def __init__(self, index, at):
        super().__init__()
        self.index, self.at = index, at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            kernel = self.model.get_layer("output").kernel
            values = kernel.numpy()
            values[self.index] = np.nan
            kernel.assign(values)


class EnsembleTest(ClassTempDirTestCase, parameterized.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.singles, failures = sweep.run_grid(seed_configs(os.path.join(cls.out, "single")), progress=False)
        assert not failures, failures
        cls.members, failures = sweep.run_grid(seed_configs(os.path.join(cls.out, "ensemble")), progress=False,
                                               ensemble_size=3)
        assert not failures, failures
        tf_config.disable_op_determinism()

    def tearDown(self):
        tf_config.disable_op_determinism()  # process-wide; keep other tests independent
        super().tearDown()

    def test_members_start_exactly_where_single_runs_start(self):
        cfgs = seed_configs(self.get_temp_dir())
        info = datasets.load("fashion_mnist_mini").info
        specs = [training.build(c, info) for c in cfgs]
        for spec in specs:
            spec.model.optimizer.build(spec.model.trainable_variables)
        model = strategy.compile_ensemble(stack.stack([s.model for s in specs]), cfgs[0].training, 1)
        stack.load_members([stack.variable_pairs(model, s.model, k) for k, s in enumerate(specs)])
        for k, cfg in enumerate(cfgs):
            fresh = training.build(cfg, info).model  # a single run's initial weights, drawn again
            for name in ("hidden_1", "hidden_2", "output"):
                self.assertAllEqual(model.get_layer(name).kernel.numpy()[k], fresh.get_layer(name).kernel.numpy())
                self.assertAllEqual(model.get_layer(name).bias.numpy()[k], fresh.get_layer(name).bias.numpy())
        self.assertNotAllEqual(model.get_layer("hidden_1").kernel.numpy()[0],
                               model.get_layer("hidden_1").kernel.numpy()[1])
        for single, member in zip(self.singles, self.members):  # and the runs' step-0 snapshots agree
            a, b = (np.load(rundir.at(d).snapshot(0)) for d in (single, member))
            self.assertEqual(sorted(a.files), sorted(b.files))
            for name in a.files:
                self.assertAllEqual(a[name], b[name])

    def test_members_after_two_epochs_match_single_runs(self):
        for single, member in zip(self.singles, self.members):
            self.assertNotEqual(single, member)
            self.assertEqual(os.path.basename(single), os.path.basename(member))  # the same run
            for a, b in zip(final_weights(member), final_weights(single)):
                self.assertLessEqual(np.max(np.abs(a - b)) / np.max(np.abs(b)), 1e-5)
            rows, expected = history(member), history(single)
            self.assertEqual(list(rows[0]), list(expected[0]))
            self.assertEqual([r["test_accuracy"] for r in rows], [r["test_accuracy"] for r in expected])
            self.assertEqual([r["accuracy"] for r in rows], [r["accuracy"] for r in expected])
            for column in ("loss", "test_loss", "rmsd", "rmsd/hidden_1"):
                self.assertAllClose([float(r[column]) for r in rows], [float(r[column]) for r in expected],
                                    rtol=1e-5, msg=column)
            steps = pd.read_csv(rundir.at(member).rmsd_steps)
            self.assertEqual(steps["step"].tolist(), list(range(10, 2 * STEPS_PER_EPOCH + 1, 10)))
            self.assertAllClose(steps["rmsd"], pd.read_csv(rundir.at(single).rmsd_steps)["rmsd"], rtol=1e-5)
            self.assertEqual(files_of(member), files_of(single))
            self.assertTrue(rundir.at(member).is_done())

    def test_an_ensemble_of_one_is_its_single_run(self):
        cfg = seed_configs(self.get_temp_dir())[0]
        (member,) = train_runner.run_all([cfg])
        single = self.singles[0]
        for a, b in zip(final_weights(member), final_weights(single)):
            self.assertLessEqual(np.max(np.abs(a - b)) / np.max(np.abs(b)), 1e-5)
        rows, expected = history(member), history(single)
        self.assertEqual(list(rows[0]), list(expected[0]))
        self.assertEqual([r["test_accuracy"] for r in rows], [r["test_accuracy"] for r in expected])
        self.assertAllClose([float(r["loss"]) for r in rows], [float(r["loss"]) for r in expected], rtol=1e-5)

    def test_members_differ_from_each_other(self):
        accuracies = {tuple(r["test_accuracy"] for r in history(d)) for d in self.members}
        self.assertLen(accuracies, 3)

    def test_a_diverging_member_does_not_stop_the_others(self):
        cfgs = seed_configs(self.get_temp_dir(), epochs=3, snapshots="none", rmsd_every_steps=0)
        clean = train_runner.run_all(seed_configs(os.path.join(self.get_temp_dir(), "clean"), epochs=3,
                                                  snapshots="none", rmsd_every_steps=0))
        outcomes = train_runner.run_all(cfgs, ensemble_callbacks=[InjectNaN(index=1, at=1)])
        rows = history(outcomes[1])
        self.assertTrue(all(math.isfinite(float(r["loss"])) for r in rows[:1]))
        self.assertTrue(all(math.isnan(float(r["loss"])) for r in rows[1:]))
        self.assertEqual(regimes.divergence_epoch([int(r["epoch"]) for r in rows],
                                                  [float(r["loss"]) for r in rows]), 2)
        self.assertTrue(rundir.at(outcomes[1]).is_done())
        for k in (0, 2):
            for a, b in zip(final_weights(outcomes[k]), final_weights(clean[k])):
                self.assertAllEqual(a, b)
            self.assertEqual(history(outcomes[k])[-1]["test_accuracy"], history(clean[k])[-1]["test_accuracy"])

    def assertEndLikeTheUninterruptedMembers(self, outcomes):
        for outcome, member in zip(outcomes, self.members):
            for a, b in zip(final_weights(outcome), final_weights(member)):
                self.assertAllClose(a, b, rtol=1e-5, atol=1e-7)
            self.assertEqual([r["test_accuracy"] for r in history(outcome)],
                             [r["test_accuracy"] for r in history(member)])

    def test_an_interrupted_ensemble_resumes_to_the_uninterrupted_weights(self):
        cfgs = seed_configs(self.get_temp_dir())
        with self.assertRaises(KeyboardInterrupt):
            train_runner.run_all(cfgs, ensemble_callbacks=[InterruptAtEpoch(1)])
        for cfg in cfgs:
            self.assertLen(history(rundir.path_for(cfg)), 1)
            self.assertFalse(rundir.at(rundir.path_for(cfg)).is_done())
        done = train_runner.run(cfgs[2], verbose=0)  # one member finished alone meanwhile: left as it is
        stamp = os.path.getmtime(rundir.at(done).model)
        outcomes = train_runner.run_all(cfgs)
        self.assertEqual(os.path.getmtime(rundir.at(done).model), stamp)
        self.assertEndLikeTheUninterruptedMembers(outcomes)

    def test_members_resuming_at_different_steps_train_in_groups(self):
        """A kill between two members' checkpoint writes leaves them at different steps."""
        cfgs = seed_configs(self.get_temp_dir())
        with self.assertRaises(KeyboardInterrupt):
            train_runner.run_all(cfgs, ensemble_callbacks=[InterruptAtEpoch(1)])
        shutil.rmtree(rundir.at(rundir.path_for(cfgs[1])).checkpoints)  # member 1 restarts from step 0
        outcomes = train_runner.run_all(cfgs)
        self.assertEndLikeTheUninterruptedMembers(outcomes)

    def test_an_ensemble_refuses_configs_that_differ_in_more_than_seeds(self):
        cfgs = seed_configs(self.get_temp_dir())
        with self.assertRaisesRegex(Exception, "differ only in their seeds"):
            train_runner.run_all([cfgs[0], cfgs[1].replace(width=8)])


class PruneEnsembleTest(ClassTempDirTestCase):
    """Two seeds of the pruning loop (LeNet-300-100, 3 rounds, a branch) alone and together."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from keras_initstudy.pruning.config import PruneExperimentConfig
        cls.runs = {}
        for name, size in (("single", 1), ("together", 2)):
            base = PruneExperimentConfig().replace(
                output_dir=os.path.join(cls.out, name), model="lenet_300_100", steps=30, rounds=3,
                optimizer="adam", learning_rate=0.0012, rewind="10it", branches="shuffle_layer",
                nondeterminism="deterministic", correlations=False, weight_images=False, snapshots="none")
            configs = grid.expand(base, grid.parse_axes(["seed=0,1"], PruneExperimentConfig))
            cls.runs[name], failures = sweep.run_grid(configs, "prune", progress=False, ensemble_size=size)
            assert not failures, failures
        tf_config.disable_op_determinism()

    def test_each_member_prunes_by_its_own_weights_as_its_single_run(self):
        from keras_initstudy.pruning import masks as masks_lib
        for single, member in zip(self.runs["single"], self.runs["together"]):
            self.assertEqual(os.path.basename(single), os.path.basename(member))
            for r in range(3):
                mine, theirs = (masks_lib.load(rundir.at(d).round(r).mask) for d in (member, single))
                for name in theirs:
                    self.assertAllEqual(mine[name], theirs[name])
                final = rundir.read_npz(rundir.at(member).round(r).final_weights)
                for name, mask in mine.items():
                    self.assertAllEqual(final[name][~mask], np.zeros(np.sum(~mask)))  # pruned: exactly zero
            table, expected = (pd.read_csv(os.path.join(d, "summary.csv")) for d in (member, single))
            self.assertEqual(table["branch"].tolist(), expected["branch"].tolist())
            self.assertEqual(table["weights_remaining"].tolist(), expected["weights_remaining"].tolist())
            self.assertAllClose(table["test_accuracy"], expected["test_accuracy"], atol=2e-3)
        masks = [rundir.read_npz(os.path.join(rundir.at(d).round(2), "mask.npz")) for d in self.runs["together"]]
        self.assertNotAllEqual(masks[0]["hidden_1/kernel"], masks[1]["hidden_1/kernel"])


class EnsembleAcrossSegmentsTest(ClassTempDirTestCase):
    """Issue 24: a rewind point inside an epoch makes a round two fits (loop.segments: 30..47, 47..94);
    the members' TensorBoard writers, closed at the first fit's end, must be opened anew for the second."""

    def test_two_seeds_rewound_mid_epoch_finish_every_round(self):
        from keras_initstudy.pruning.config import PruneExperimentConfig
        base = PruneExperimentConfig().replace(
            output_dir=self.out, model="mlp", width=8, epochs=2, rounds=2, rewind="30it", rmsd=False,
            nondeterminism="deterministic", correlations=False, weight_images=False, snapshots="none")
        configs = grid.expand(base, grid.parse_axes(["seed=0,1"], PruneExperimentConfig))
        dirs, failures = sweep.run_grid(configs, "prune", progress=False, ensemble_size=2)
        tf_config.disable_op_determinism()
        self.assertEqual(failures, [])
        for d in dirs:
            self.assertEqual(pd.read_csv(os.path.join(d, "summary.csv"))["round"].tolist(), [0, 1])
            validation = os.path.join(rundir.at(d).round(1).tensorboard, "validation")
            self.assertEqual(tb_events.steps(validation, "epoch_accuracy"), [1, 2])  # both of round 1's fits


class MemberLogsTest(tf.test.TestCase):

    def test_each_member_gets_its_own_entries_under_single_run_names(self):
        logs = {"loss": 9.0, "member_0_loss": 1.0, "member_0_mean_loss": 1.5, "member_0_accuracy": 0.5,
                "member_1_mean_loss": 2.5, "member_1_accuracy": 0.25, "val_member_1_mean_loss": 3.5,
                "val_member_1_accuracy": 0.75, "val_loss": 8.0}
        self.assertEqual(fanout.member_logs(logs, 0, 2), {"loss": 1.5, "accuracy": 0.5})
        self.assertEqual(fanout.member_logs(logs, 1, 2), {"loss": 2.5, "accuracy": 0.25, "val_loss": 3.5,
                                                          "val_accuracy": 0.75})

    def test_a_single_member_reads_keras_unprefixed_names(self):
        logs = {"loss": 1.0, "mean_loss": 1.5, "accuracy": 0.5, "val_loss": 2.0, "val_mean_loss": 2.5,
                "val_accuracy": 0.75}
        self.assertEqual(fanout.member_logs(logs, 0, 1), {"loss": 1.5, "accuracy": 0.5, "val_loss": 2.5,
                                                          "val_accuracy": 0.75})


class StackedLayersTest(tf.test.TestCase):

    def test_stacked_dense_is_k_dense_layers(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(3, 5, 4)).astype("float32")
        layer = layers.StackedDense(3, 2, activation="relu")
        layer.build(x.shape)
        layer.kernel.assign(rng.normal(size=(3, 4, 2)).astype("float32"))
        layer.bias.assign(rng.normal(size=(3, 2)).astype("float32"))
        y = layer(x).numpy()
        for k in range(3):
            expected = np.maximum(x[k] @ layer.kernel.numpy()[k] + layer.bias.numpy()[k], 0)
            self.assertAllClose(y[k], expected, rtol=1e-6)

    def test_layers_round_trip_their_config(self):
        for layer in (layers.MemberMajor(3), layers.StackedDense(3, 7, activation="softmax"),
                      layers.StackedDropout(3, 0.5, seeds=[1, 2, 3]), layers.TakeMember(2)):
            again = type(layer).from_config(layer.get_config())
            self.assertEqual(again.get_config(), layer.get_config())

    def test_stacked_dropout_draws_each_members_single_run_masks(self):
        x = np.ones((3, 64, 32), "float32")
        single = [keras.layers.Dropout(0.5, seed=s) for s in (11, 12, 13)]
        stacked = layers.StackedDropout(3, 0.5, seeds=[11, 12, 13])
        for _ in range(2):  # the generators advance alike
            y = stacked(x, training=True).numpy()
            for k in range(3):
                self.assertAllEqual(y[k], single[k](x[k], training=True).numpy())

    def test_a_convnet_is_not_stackable(self):
        info = datasets.load("fashion_mnist_mini").info
        cfg = config.ExperimentConfig().replace(model="schicho_cnn_mnist")
        spec = training.build(cfg, info)
        with self.assertRaisesRegex(stack.NotStackable, "cannot be stacked"):
            stack.stack([spec.model, spec.model])


class GroupingTest(parameterized.TestCase):

    def test_seeds_group_and_other_settings_split(self):
        base = config.ExperimentConfig()
        cfgs = grid.expand(base, grid.parse_axes(["width=8,16", "seed=0..4"]))
        found = grouping.groups(cfgs, 3)
        self.assertEqual(found, [[0, 1, 2], [3, 4], [5, 6, 7], [8, 9]])
        self.assertEqual(grouping.groups(cfgs, 1), [[i] for i in range(10)])

    @parameterized.parameters(("model", "constnet"), ("dtype", "mixed_float16"))
    def test_what_cannot_stack_runs_alone(self, name, value):
        cfgs = [config.ExperimentConfig().replace(**{name: value, "seed": s}) for s in range(3)]
        self.assertEqual(grouping.groups(cfgs, 10), [[0], [1], [2]])
        self.assertIsNotNone(grouping.why_not(cfgs[0]))

    def test_runners_not_registered_for_ensembles_run_alone(self):
        cfgs = [config.ExperimentConfig().replace(seed=s) for s in range(2)]
        runners.register("one_at_a_time", "keras_initstudy.config:ExperimentConfig")(lambda: None)
        self.addCleanup(runners.RUNNERS.remove, "one_at_a_time")
        self.assertEqual(grouping.groups(cfgs, 10, runners.ensembles("one_at_a_time")), [[0], [1]])
        self.assertEqual(grouping.groups(cfgs, 10, runners.ensembles("prune")), [[0, 1]])

    def test_init_and_data_seeds_count_as_seeds(self):
        base = config.ExperimentConfig()
        cfgs = [base.replace(init_seed=1), base.replace(data_seed=2), base.replace(seed=3), base]
        self.assertEqual(grouping.groups(cfgs, 10), [[0, 1, 2, 3]])

    def test_default_size_follows_the_device(self):
        self.assertEqual(grouping.default_size(lambda: False), grouping.DEFAULT_SIZE["cpu"])
        self.assertEqual(grouping.default_size(lambda: True), grouping.DEFAULT_SIZE["gpu"])


class PipelineTest(tf.test.TestCase):

    def test_each_member_sees_its_own_data_order(self):
        cfgs = seed_configs(self.get_temp_dir())
        data = datasets.load("fashion_mnist_mini")
        images, labels = next(iter(strategy.stream(cfgs, [data] * 3, 5, 6)))
        self.assertEqual(images.shape[1], 3)
        for k, cfg in enumerate(cfgs):
            x, y = next(iter(pipeline.train_stream(data.train, cfg.training.batch_size, cfg.training.seeds.data,
                                                   5, 6)))
            self.assertAllEqual(images[:, k], x)
            self.assertAllEqual(labels[stack.output_name(k)], y)

    def test_augmented_members_see_their_own_augmentations(self):
        cfgs = seed_configs(self.get_temp_dir(), augment=True)
        data = datasets.load("fashion_mnist_mini")
        images, _ = next(iter(strategy.stream(cfgs, [data] * 3, 50, 51)))
        for k, cfg in enumerate(cfgs):
            x, _ = next(iter(training.train_stream(cfg, data, 50, 51)))
            self.assertAllEqual(images[:, k], x)


if __name__ == "__main__":
    tf.test.main()
