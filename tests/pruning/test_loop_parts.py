"""The pruning-with-rewind loop's parts (rounds.py, pretraining.py) on a tiny MLP and tiny
data: masks from the previous round's magnitudes, the rewind (save point, or kept
optimizer plus weight snapshot), re-initialised survivors, round records, the summary,
branches added to a finished run, and pre-training. Seconds each, so the mutation run
(tools/mutation/mutation_test.py, group pruning_loop) can rerun them per mutant; test_rounds.py
and test_pretraining.py check the same loop at the papers' scale."""
import contextlib
import io
import json
import math
import os
import re
import threading
import time
from unittest import mock

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from keras_initstudy import (callbacks as callbacks_lib, errors, initializers, lifecycle, rundir, seeds, steps,
                             training, training_state)
from keras_initstudy.callbacks.checkpoint import step_name
from keras_initstudy.callbacks.snapshots import weights_by_path
from keras_initstudy.datasets import base
from keras_initstudy.ensemble import strategy
from keras_initstudy.pruning import masks as masks_lib
from keras_initstudy.pruning import perturb, pretraining, rounds
from keras_initstudy.pruning.config import PruneExperimentConfig
from tests.class_tempdir import TempDirTestCase

PER_EPOCH = 3  # 48 training examples in batches of 16
KERNELS = ("hidden_1/kernel", "hidden_2/kernel", "output/kernel")


def tiny_data(classes=3, size=6, seed=0):
    rng = np.random.default_rng(seed)
    split = lambda n: base.Split(rng.random((n, size, size, 1), dtype=np.float32),
                                 (np.arange(n) % classes).astype(np.int64))
    return base.Dataset(split(48), split(24), base.DatasetInfo("tiny", classes, (size, size, 1),
                                                               tuple("abcdefgh"[:classes])))


def tiny_cfg(out, **changes):
    """A 2-round pruning run of an MLP of width 8 (or of `model`, at its own settings)."""
    model = {"model": "mlp", "width": 8} if changes.get("model", "mlp") == "mlp" else {}
    return PruneExperimentConfig().replace(**{
        "output_dir": out, **model, "batch_size": 16, "epochs": 2, "rounds": 2, "prune_fraction": 0.5,
        "snapshots": "0", "nondeterminism": "deterministic", "weight_images": False, "correlations": False,
        "rmsd": False, **changes})


def layerwise(final, old, fraction, output_fraction, rounding=math.ceil):
    """Independent layer-wise magnitude pruning: each layer loses rounding(fraction x its
    survivors) of its smallest surviving |w| (the output layer at its own fraction)."""
    new = {}
    for name, alive in old.items():
        f = output_fraction if name.startswith("output/") else fraction
        count = rounding(f * int(alive.sum()))
        order = np.argsort(np.where(alive, np.abs(final[name]), np.inf), axis=None, kind="stable")
        mask = alive.copy().reshape(-1)
        mask[order[:count]] = False
        new[name] = mask.reshape(alive.shape)
    return new


def captured_stdout():
    return contextlib.redirect_stdout(io.StringIO())


class LoopTestCase(TempDirTestCase):

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def built(self, cfg, info=None):
        spec = training.build(cfg, info or tiny_data().info, PER_EPOCH)
        return spec, masks_lib.Masks.attach(spec, include_biases=cfg.pruning.prune_biases)

    def run_dir(self, cfg):
        path = rundir.path_for(cfg)
        os.makedirs(path, exist_ok=True)
        return path

    def previous_round(self, run_dir, r, seed=0, biases=False):
        """round r's mask (about 30% of the weights gone when r > 0) and final weights."""
        rng = np.random.default_rng(seed)
        shapes = {"hidden_1/kernel": (36, 8), "hidden_2/kernel": (8, 8), "output/kernel": (8, 3)}
        if biases:
            shapes.update({"hidden_1/bias": (8,), "hidden_2/bias": (8,), "output/bias": (3,)})
        old = {n: (rng.random(s) < 0.7) if r else np.ones(s, bool) for n, s in shapes.items()}
        final = {n: rng.standard_normal(s).astype(np.float32) * old[n] for n, s in shapes.items()}
        if not biases:
            final["hidden_1/bias"] = np.full(8, 100.0, np.float32)  # not masked: not pruned
        masks_lib.save(rundir.at(run_dir).round(r).mask, old)
        rundir.write_npz(rundir.at(run_dir).round(r).final_weights, final)
        return old, final

    def half_masks(self, masks):
        chosen = {n: np.indices(v.shape).sum(axis=0) % 2 == 0 for n, v in masks.variables.items()}
        masks.assign(chosen)
        return chosen

    def state(self, cfg, directory, name, step, value):
        """A saved state of the model: weight i is value + i + a ramp, the optimizer at `step`."""
        spec, _ = self.built(cfg)
        spec.model.optimizer.build(spec.model.trainable_variables)
        for i, variable in enumerate(spec.model.trainable_weights):
            ramp = np.arange(np.prod(variable.shape)).reshape(variable.shape) / 1000
            variable.assign((value + i + ramp).astype(np.float32))
        spec.model.optimizer.iterations.assign(step)
        training_state.save(spec.model, directory, name, step)
        return weights_by_path(spec.model)


class FileNamesTest(tf.test.TestCase):

    def test_the_documented_names(self):
        self.assertEqual(rundir.at("/r/round-01").mask, "/r/round-01/mask.npz")
        self.assertEqual(rundir.at("/r/round-01").final_weights, "/r/round-01/final.npz")
        self.assertEqual(rundir.at("/r/round-01").round_record, "/r/round-01/round.json")
        self.assertEqual(rundir.at("/r").summary_table, "/r/summary")


class MasksOfARoundTest(LoopTestCase):

    def test_each_layer_loses_its_fraction_of_the_survivors_by_final_magnitude(self):
        for rounding, fn in (("ceil", math.ceil), ("floor", math.floor)):
            cfg = tiny_cfg(self.dir, prune_fraction=0.3, prune_rounding=rounding)
            run_dir = self.run_dir(cfg)
            self.previous_round(run_dir, 0, seed=1)  # not the round pruned from
            old, final = self.previous_round(run_dir, 1)
            got = rounds.next_masks(cfg, run_dir, 2, "output")
            expected = layerwise(final, old, 0.3, 0.15, fn)
            self.assertEqual(sorted(got), sorted(KERNELS))
            for name in KERNELS:
                self.assertAllEqual(got[name], expected[name], f"{rounding} {name}")

    def test_an_output_fraction_of_its_own_and_the_global_strategy(self):
        cfg = tiny_cfg(self.dir, prune_fraction=0.4, prune_output_fraction=0.0)
        run_dir = self.run_dir(cfg)
        old, final = self.previous_round(run_dir, 0)
        got = rounds.next_masks(cfg, run_dir, 1, "output")
        self.assertAllEqual(got["output/kernel"], old["output/kernel"])  # 0: the output layer is kept
        self.assertEqual(int(got["hidden_2/kernel"].sum()), 64 - math.ceil(0.4 * 64))
        cfg = cfg.replace(strategy="global")
        got = rounds.next_masks(cfg, run_dir, 1, "output")
        self.assertAllEqual(got["output/kernel"], old["output/kernel"])
        hidden = np.concatenate([np.abs(final[n][old[n]]) for n in KERNELS[:2]])
        pruned = math.ceil(0.4 * hidden.size)
        threshold = np.sort(hidden)[pruned - 1]
        for name in KERNELS[:2]:  # one threshold over the hidden layers
            self.assertAllEqual(got[name], old[name] & (np.abs(final[name]) > threshold), name)

    def test_round_0_is_dense_a_new_round_is_pruned_and_saved_and_a_saved_mask_is_read_back(self):
        cfg = tiny_cfg(self.dir)
        run_dir = self.run_dir(cfg)
        spec, masks = self.built(cfg)
        rounds.round_masks(cfg, run_dir, 0, masks, "output")
        saved = masks_lib.load(rundir.at(run_dir).round(0).mask)
        for name in KERNELS:
            self.assertTrue(saved[name].all())
            self.assertTrue(masks.numpy()[name].all())
        old, final = self.previous_round(run_dir, 0)  # round 0 trained: its final weights
        rounds.round_masks(cfg, run_dir, 1, masks, "output")
        expected = layerwise(final, old, 0.5, 0.25)
        saved = masks_lib.load(rundir.at(run_dir).round(1).mask)
        for name in KERNELS:
            self.assertAllEqual(saved[name], expected[name])
            self.assertAllEqual(masks.numpy()[name], expected[name])
        # a saved mask is the round's mask (a resumed round never recomputes it)
        fixed = {n: np.eye(*m.shape, dtype=bool) for n, m in expected.items()}
        masks_lib.save(rundir.at(run_dir).round(1).mask, fixed)
        rounds.round_masks(cfg, run_dir, 1, masks, "output")
        for name in KERNELS:
            self.assertAllEqual(masks.numpy()[name], fixed[name])
            weight = masks.variables[name].numpy()
            self.assertAllEqual(weight[~fixed[name]], np.zeros(int((~fixed[name]).sum()), np.float32))


class RewindTest(LoopTestCase):

    def test_round_0_starts_where_it_is_built(self):
        cfg = tiny_cfg(self.dir)
        spec, masks = self.built(cfg)
        before = weights_by_path(spec.model)
        self.assertEqual(rounds.start_round(cfg, self.run_dir(cfg), 0, spec, masks, 2, PER_EPOCH, "random"), 0)
        after = weights_by_path(spec.model)
        for name in before:
            self.assertAllEqual(after[name], before[name])

    def test_a_rewind_restores_the_save_point_of_round_0_masked(self):
        cfg = tiny_cfg(self.dir, rewind="2it")
        run_dir = self.run_dir(cfg)
        saved = self.state(cfg, rundir.at(run_dir).round(0).save_points, step_name(2), 2, 1.0)
        self.state(cfg, rundir.at(run_dir).round(1).save_points, step_name(2), 2, 7.0)  # not read
        self.assert_round_2_starts_at(cfg, run_dir, 2, saved)

    def assert_round_2_starts_at(self, cfg, run_dir, step, values):
        """Round 2, rewound to step 2 on a mask of every other weight, starts at optimizer
        step `step` with `values` on the mask."""
        spec, masks = self.built(cfg)
        chosen = self.half_masks(masks)
        self.assertEqual(rounds.start_round(cfg, run_dir, 2, spec, masks, 2, PER_EPOCH, "none"), step)
        self.assertEqual(int(spec.model.optimizer.iterations.numpy()), step)
        got = weights_by_path(spec.model)
        for name, value in values.items():
            self.assertAllEqual(got[name], value * chosen[name] if name in chosen else value)

    def test_a_kept_optimizer_continues_the_previous_round_with_the_weights_of_the_rewind_step(self):
        cfg = tiny_cfg(self.dir, rewind="2it", reset_optimizer=False)
        run_dir = self.run_dir(cfg)
        self.state(cfg, rundir.at(run_dir).round(0), "final_state", 6, 3.0)
        self.state(cfg, rundir.at(run_dir).round(1), "final_state", 10, 5.0)
        spec, _ = self.built(cfg)
        rewound = {n: np.full(v.shape, -float(i), np.float32)
                   for i, (n, v) in enumerate(weights_by_path(spec.model).items())}
        rundir.write_npz(rundir.at(run_dir).round(0).snapshot_at(steps.Step(2, PER_EPOCH)), rewound)
        rundir.write_npz(rundir.at(run_dir).round(1).snapshot_at(steps.Step(2, PER_EPOCH)),
                         {n: v + 50 for n, v in rewound.items()})  # not read
        self.assert_round_2_starts_at(cfg, run_dir, 10, rewound)

    def test_reinitialised_survivors_are_drawn_per_round_and_layer_and_biases_are_kept(self):
        cfg = tiny_cfg(self.dir, rewind="2it", prune_biases=True, kernel_initializer="he_uniform")
        run_dir = self.run_dir(cfg)
        saved = self.state(cfg, rundir.at(run_dir).round(0).save_points, step_name(2), 2, 1.0)
        spec, masks = self.built(cfg)
        w0 = weights_by_path(spec.model)
        chosen = self.half_masks(masks)
        rounds.start_round(cfg, run_dir, 3, spec, masks, 2, PER_EPOCH, "random")
        got = weights_by_path(spec.model)
        for name in KERNELS:
            seed = seeds.derive(cfg.training.seeds.init, "reinit", 3, name)
            fresh = np.asarray(initializers.from_spec("he_uniform", seed)(got[name].shape))
            self.assertAllEqual(got[name], fresh * chosen[name])
        for name in ("hidden_1/bias", "output/bias"):
            self.assertAllEqual(got[name], saved[name] * chosen[name])
        # a permutation draws from a generator seeded by round and layer too
        spec, masks = self.built(cfg)
        chosen = self.half_masks(masks)
        rounds.start_round(cfg, run_dir, 2, spec, masks, 2, PER_EPOCH, "shuffle_layer")
        got = weights_by_path(spec.model)
        for name in KERNELS:
            seed = seeds.derive(cfg.training.seeds.init, "reinit", 2, name)
            expected = perturb.shuffle_groups(saved[name] * chosen[name], chosen[name],
                                              perturb.layer_groups(chosen[name].shape), np.random.default_rng(seed))
            self.assertAllEqual(got[name], expected * chosen[name])
        # init_signs: |w(k)| with the signs of the weights the model held when called (w(0))
        spec, masks = self.built(cfg)
        chosen = self.half_masks(masks)
        rounds.start_round(cfg, run_dir, 1, spec, masks, 2, PER_EPOCH, "init_signs")
        got = weights_by_path(spec.model)
        for name in KERNELS:
            expected = np.where(w0[name] < 0, -1.0, 1.0) * np.abs(saved[name]) * chosen[name]
            self.assertAllEqual(got[name], expected.astype(np.float32))

    def test_rewind_optimizer_restore_keeps_the_buffers_of_step_k_fresh_zeroes_them_at_step_k(self):
        """open_lth loads w(k) with a new optimizer whose schedule starts at k (--rewind_optimizer=fresh)."""
        for mode in ("restore", "fresh"):
            cfg = tiny_cfg(os.path.join(self.dir, mode), rewind="2it", momentum=0.9, learning_rate=0.05,
                           rewind_optimizer=mode)
            run_dir = self.run_dir(cfg)
            spec, _ = self.built(cfg)
            spec.model.optimizer.build(spec.model.trainable_variables)
            for buffer in spec.model.optimizer.momentums:
                buffer.assign(np.full(buffer.shape, 0.5, np.float32))
            spec.model.optimizer.iterations.assign(2)
            training_state.save(spec.model, rundir.at(run_dir).round(0).save_points, step_name(2), 2)
            spec, masks = self.built(cfg)
            self.assertEqual(rounds.start_round(cfg, run_dir, 1, spec, masks, 2, PER_EPOCH, "none"), 2)
            optimizer = spec.model.optimizer
            self.assertEqual(int(optimizer.iterations.numpy()), 2)
            self.assertAllClose(float(optimizer.learning_rate.numpy()), 0.05)
            for buffer in optimizer.momentums:
                self.assertAllEqual(buffer.numpy(), np.full(buffer.shape, 0.5 if mode == "restore" else 0.0))
        with self.assertRaisesRegex(Exception, "needs --reset_optimizer"):
            tiny_cfg(self.dir, rewind_optimizer="fresh", reset_optimizer=False)

    def test_random_model_replaces_every_weight_by_a_fresh_models_then_masks(self):
        """open_lth's randomly_reinitialize: a new model, biases (and batch norm) included, masked."""
        cfg = tiny_cfg(self.dir, rewind="2it", bias_initializer="torch_default")
        run_dir = self.run_dir(cfg)
        saved = self.state(cfg, rundir.at(run_dir).round(0).save_points, step_name(2), 2, 1.0)
        spec, masks = self.built(cfg)
        chosen = self.half_masks(masks)
        rounds.start_round(cfg, run_dir, 3, spec, masks, 2, PER_EPOCH, "random_model", tiny_data().info)
        got = weights_by_path(spec.model)
        fresh = rounds.fresh_model_weights(cfg, tiny_data().info, 3)
        for name in got:
            self.assertAllEqual(got[name], fresh[name] * chosen[name] if name in chosen else fresh[name])
            self.assertNotAllClose(got[name], saved[name])
        self.assertTrue(np.any(fresh["hidden_1/bias"]))  # the biases are a new draw too
        other = rounds.fresh_model_weights(cfg, tiny_data().info, 4)
        self.assertNotAllClose(other["hidden_1/kernel"], fresh["hidden_1/kernel"])

    def test_a_perturbation_the_model_cannot_show_fails_before_training(self):
        data = tiny_data()
        for changes in (dict(reinit="shuffle_kernel"), dict(branches="init_signs,shuffle_kernel")):
            cfg = tiny_cfg(self.dir, **changes)
            with self.assertRaisesRegex(errors.UserError, "shuffle_kernel permutes"):
                rounds.KIND.schedule(cfg, data)
            self.assertFalse(os.path.exists(rundir.path_for(cfg)))

    def test_a_fresh_draw_needs_a_model_with_one_kernel_initializer(self):
        data = tiny_data(size=8)
        wrn = dict(model="wide_resnet", wrn_depth=10, widen_factor=1)
        for changes, drawn in ((dict(reinit="random"), "random"),
                               (dict(reinit="random", branches="init,random_magnitudes"), "random, random_magnitudes")):
            cfg = tiny_cfg(self.dir, **wrn, **changes)
            with self.assertRaisesRegex(errors.UserError, rf"^{drawn} draw from the model's --kernel_initializer, "
                                        r"which wide_resnet does not have \(its layers each set their own\)$"):
                rounds.KIND.schedule(cfg, data)
        rounds.check_reinitialisations(tiny_cfg(self.dir, **wrn, branches="init_magnitudes"), data.info)  # no draw
        rounds.check_reinitialisations(tiny_cfg(self.dir, reinit="random"), data.info)  # the MLP has one
        # nor does a perturbation without a fresh draw ask for it
        spec, masks = self.built(tiny_cfg(self.dir))
        initial = {n: v.numpy() for n, v in masks.variables.items()}
        rounds.perturb_survivors(tiny_cfg(self.dir, **wrn), masks, "init_magnitudes", initial, 1)

    def test_the_rewind_step_must_come_before_the_end_of_a_round(self):
        data = tiny_data()
        self.assertEqual(rounds.KIND.schedule(tiny_cfg(self.dir, rewind="5it"), data)[::2], (PER_EPOCH, 5))
        self.assertEqual(rounds.KIND.schedule(tiny_cfg(self.dir, rewind="5it"), data)[1].iteration, 6)
        for rewind in ("6it", "2ep", "9it"):
            with self.assertRaisesRegex(errors.UserError,
                                        rf"--rewind={rewind} is step \d+, not before the end of a round \(step 6\)"):
                rounds.KIND.schedule(tiny_cfg(self.dir, rewind=rewind), data)


class PlanTest(LoopTestCase):
    """prepare_round: each round's model, mask, starting point, end and instruments."""

    def plan(self, cfg, r, branch=None, rewind=2, run_dir=None, verbose=0):
        member = lifecycle.MemberRun(0, cfg, run_dir or self.run_dir(cfg), tiny_data())
        return rounds.prepare_round(member, r, branch, rounds.Schedule(PER_EPOCH, steps.Step(6, PER_EPOCH), rewind),
                                    verbose)

    def kinds(self, plan):
        return [type(c).__name__ for c in plan.run.callbacks]

    def test_round_0_starts_at_w0_keeps_its_rewind_point_and_carries_the_telemetry(self):
        cfg = tiny_cfg(self.dir, rewind="2it", telemetry=True, rmsd=True, rmsd_include_biases=True)
        with mock.patch.object(training, "build", wraps=training.build) as build:
            plan = self.plan(cfg, 0)
        self.assertEqual(build.call_args.args[2], PER_EPOCH)
        self.assertEqual((plan.r, plan.branch, plan.run.start, plan.run.end.iteration), (0, None, 0, 6))
        self.assertEqual(plan.run.directory, rundir.at(self.run_dir(cfg)).round(0))
        self.assertEqual(self.kinds(plan), ["Telemetry", "DeviationTracker", "WeightSnapshots", "SavePoints"])
        save_points = plan.run.callbacks[-1]
        self.assertEqual((save_points.directory, save_points.steps),
                         (rundir.at(plan.run.directory).save_points, {2}))
        deviation = plan.run.callbacks[1]
        self.assertLen(deviation.reference.variables, 6)  # kernels and biases, as asked
        for name, mask in plan.masks.numpy().items():
            self.assertTrue(mask.all(), name)
        self.assertTrue(masks_lib.exists(rundir.at(plan.run.directory).mask))
        kept = self.plan(cfg.replace(reset_optimizer=False), 0)  # the weights of step k alone
        snapshots = [c for c in kept.run.callbacks if isinstance(c, callbacks_lib.WeightSnapshots)]
        self.assertEqual([sorted(c.schedule) for c in snapshots], [[0, 6], [2]])  # --snapshots=0, then w(k)

    def test_a_later_round_starts_at_the_rewind_point_on_its_mask_without_telemetry(self):
        cfg = tiny_cfg(self.dir, rewind="2it", telemetry=True, prune_biases=True)
        run_dir = self.run_dir(cfg)
        self.previous_round(run_dir, 0, biases=True)
        saved = self.state(cfg, rundir.at(run_dir).round(0).save_points, step_name(2), 2, 1.0)
        plan = self.plan(cfg, 1)
        self.assertEqual((plan.run.start, plan.run.end.iteration, plan.run.directory),
                         (2, 6, rundir.at(run_dir).round(1)))
        self.assertEqual(self.kinds(plan), ["WeightSnapshots"])
        self.assertIn("hidden_1/bias", plan.masks.variables)
        masks = plan.masks.numpy()
        self.assertFalse(masks["hidden_1/kernel"].all())
        self.assertFalse(masks["hidden_1/bias"].all())
        for name, values in weights_by_path(plan.run.spec.model).items():
            self.assertAllEqual(values, saved[name] * masks[name] if name in masks else saved[name])
        kept = tiny_cfg(self.dir, rewind="2it", reset_optimizer=False)
        self.state(kept, rundir.at(self.run_dir(kept)).round(0), "final_state", 6, 3.0)
        rundir.write_npz(rundir.at(self.run_dir(kept)).round(0).snapshot_at(steps.Step(2, PER_EPOCH)),
                         saved)
        self.previous_round(self.run_dir(kept), 0)
        plan = self.plan(kept, 1)
        self.assertEqual((plan.run.start, plan.run.end.iteration), (6, 10))  # T - k = 4 steps more

    def test_a_branch_trains_on_its_rounds_mask_from_the_perturbed_rewind_point(self):
        cfg = tiny_cfg(self.dir, rewind="2it", reinit="init_magnitudes")
        run_dir = self.run_dir(cfg)
        self.previous_round(run_dir, 0)
        saved = self.state(cfg, rundir.at(run_dir).round(0).save_points, step_name(2), 2, -1.0)
        plan = self.plan(cfg, 1, branch="init")
        self.assertEqual((plan.branch, plan.run.directory), ("init", rundir.at(run_dir).round(1).branch("init")))
        self.assertFalse(os.path.exists(rundir.at(plan.run.directory).mask))  # the round's mask, not one of its own
        w0 = weights_by_path(training.build(cfg, tiny_data().info, PER_EPOCH).model)
        masks = plan.masks.numpy()
        got = weights_by_path(plan.run.spec.model)
        for name in KERNELS:  # init: w(0) on the mask (the trunk's reinit does not apply to a branch)
            self.assertAllEqual(got[name], w0[name] * masks[name])
        self.assertAllEqual(got["hidden_1/bias"], saved["hidden_1/bias"])

    def test_pretraining_replaces_the_rewind_in_round_0_and_in_sparse_rounds(self):
        for sparse, r, expected in ((False, 0, True), (False, 1, False), (True, 1, True)):
            cfg = tiny_cfg(self.dir, pretrain="blur", sparse_pretrain=sparse)
            run_dir = self.run_dir(cfg)
            if r:
                self.previous_round(run_dir, 0)
                self.state(cfg, rundir.at(run_dir).round(0).save_points, step_name(0), 0, 1.0)
            with mock.patch.object(pretraining, "pretrain") as pretrain:
                plan = self.plan(cfg, r, rewind=0, run_dir=run_dir, verbose=2)
            self.assertEqual(pretrain.called, expected, (sparse, r))
            if expected:
                self.assertEqual(pretrain.call_args.args[1], rundir.at(run_dir).pretraining(r))
                self.assertIs(pretrain.call_args.args[2], plan.run.spec)
                self.assertEqual(pretrain.call_args.args[5], 2)  # verbose
            self.assertEqual((plan.run.start, plan.run.end.iteration), (0, 6))


class RecordsTest(LoopTestCase):

    def history(self, directory, accuracies, losses):
        rows = ["epoch,step,accuracy,loss,test_accuracy,test_loss,wall_time"]
        rows += [f"{e + 1},{3 * (e + 1)},0.1,9.0,{a},{loss},0.5" for e, (a, loss) in enumerate(zip(accuracies, losses))]
        os.makedirs(directory, exist_ok=True)
        rundir.write_text(rundir.at(directory).history, "\n".join(rows) + "\n")

    def test_a_round_record_counts_the_mask_and_reads_the_history(self):
        cfg = tiny_cfg(self.dir)
        data = tiny_data()
        spec, masks = self.built(cfg)
        masks.assign({n: np.arange(v.numpy().size).reshape(v.shape) % 4 != 0 for n, v in masks.variables.items()})
        self.history(self.dir, [0.5, 0.75, 0.625], [1.5, 1.25, 1.0])
        record = rounds.round_record(2, self.dir, masks, spec.model, cfg, data, 4, steps.Step(9, PER_EPOCH))
        predicted = np.argmax(spec.model.predict(data.train.images, verbose=0), axis=1)
        sizes = {"hidden_1/kernel": 288, "hidden_2/kernel": 64, "output/kernel": 24}
        expected = {"round": 2, "steps_per_epoch": 3, "start_step": 4, "end_step": 9,
                    "weights_remaining": 282, "weights_total": 376, "fraction_remaining": 282 / 376,
                    "test_accuracy": 0.625, "test_loss": 1.0, "best_test_accuracy": 0.75, "best_epoch": 2.0,
                    "test_accuracy/ep1": 0.5, "test_accuracy/ep2": 0.75, "test_accuracy/ep3": 0.625}
        for name, size in sizes.items():
            expected[f"remaining/{name}"] = size * 3 // 4
            expected[f"fraction_remaining/{name}"] = 0.75
        train_accuracy = record.pop("train_eval_accuracy")
        self.assertEqual(record, expected)
        self.assertAllClose(train_accuracy, np.mean(predicted == data.train.labels), atol=1e-6)

    def plan(self, cfg, branch, data):
        spec, masks = self.built(cfg)
        directory = rundir.at(self.dir).round(1) if branch is None else rundir.at(self.dir).round(1).branch(branch)
        self.history(directory, [0.5], [1.0])
        spec.model.optimizer.build(spec.model.trainable_variables)
        spec.model.optimizer.iterations.assign(7)
        run = strategy.PreparedRun(cfg, data, directory, spec, [], steps.Step(7, PER_EPOCH), 4)
        return rounds.RoundPlan(run, masks, 1, branch)

    def test_a_finished_round_writes_its_weights_record_and_done_marker_and_keeps_the_optimizer_if_asked(self):
        data = tiny_data()
        for reset, branch, keeps_state in ((True, None, False), (False, None, True), (False, "init_signs", False)):
            plan = self.plan(tiny_cfg(self.dir, reset_optimizer=reset), branch, data)
            rounds.finish_round(plan)
            directory = plan.run.directory
            final = rundir.read_npz(rundir.at(directory).final_weights)
            for name, values in weights_by_path(plan.run.spec.model).items():
                self.assertAllEqual(final[name], values)
            self.assertEqual(training_state.read_step(directory, "final_state"), 7 if keeps_state else None)
            with open(rundir.at(directory).round_record) as f:
                record = json.load(f)
            self.assertEqual(record["branch"], branch or "trunk")
            self.assertEqual((record["round"], record["start_step"], record["end_step"], record["steps_per_epoch"]),
                             (1, 4, 7, PER_EPOCH))
            self.assertTrue(rundir.at(directory).is_done())
            rundir.at(directory).clear_done()

    def record(self, directory, **values):
        rundir.write_json(rundir.at(directory).round_record, {"round": 0, "test_accuracy": 0.5, **values})

    def test_the_summary_has_a_row_per_finished_round_then_its_finished_branches_by_name(self):
        self.record(rundir.at(self.dir).round(0), round=0)
        self.record(rundir.at(self.dir).round(1), round=1, branch="trunk")
        self.record(rundir.at(self.dir).round(1).branch("shuffle_unit"), round=1, branch="shuffle_unit")
        self.record(rundir.at(self.dir).round(1).branch("init_signs"), round=1, branch="init_signs")
        os.makedirs(rundir.at(self.dir).round(1).branch("random"))  # not finished
        self.record(rundir.at(self.dir).round(3), round=3)  # after a gap: not read
        summary = rounds.run_summary(self.dir)
        self.assertEqual(list(zip(summary["round"], summary["branch"])),
                         [(0, "trunk"), (1, "trunk"), (1, "init_signs"), (1, "shuffle_unit")])
        self.assertEqual(rounds.run_summary(os.path.join(self.dir, "none")).shape, (0, 0))
        with captured_stdout() as out:
            rounds.close_run(self.dir)
        self.assertEqual(out.getvalue().splitlines()[-1].split(), ["1", "shuffle_unit", "?", "?"])  # fields missing
        self.assertTrue(rundir.at(self.dir).is_done())
        self.assertEqual(pd.read_csv(rundir.at(self.dir).summary_table + ".csv")["branch"].tolist(),
                         summary["branch"].tolist())

    def test_the_table_puts_each_runs_settings_before_its_rounds(self):
        runs = []
        for rewind, seed in (("init", 3), ("2it", 4)):
            cfg = tiny_cfg(self.dir, rewind=rewind, seed=seed, strategy="global")
            run_dir = self.run_dir(cfg)
            rundir.write_settings(run_dir, cfg)
            for r in range(2):
                self.record(rundir.at(run_dir).round(r), round=r)
            runs.append(run_dir)
        table = rounds.table(runs)
        self.assertEqual(table["round"].tolist(), [0, 1, 0, 1])
        self.assertEqual(table.index.tolist(), [0, 1, 2, 3])
        self.assertEqual(table["rewind"].tolist(), ["init", "init", "2it", "2it"])
        self.assertEqual(table["init_seed"].tolist(), [3, 3, 4, 4])
        self.assertEqual(table["run_dir"].tolist(), [runs[0]] * 2 + [runs[1]] * 2)
        self.assertEqual(set(table["strategy"]), {"global"})
        self.assertEqual(set(table["model"]), {"mlp"})
        self.assertEqual(table.columns[-len(rounds.run_summary(runs[0]).columns):].tolist(),
                         rounds.run_summary(runs[0]).columns.tolist())
        self.assertEqual(set(table.columns) - set(rounds.run_summary(runs[0]).columns),
                         {"kernel_initializer", "init_seed", "data_seed", "seed", "strategy", "rewind",
                          "prune_fraction", "reinit", "pretrain", "sparse_pretrain", "dataset", "model",
                          "experiment", "run_dir", "run_name"})
        self.assertTrue(rounds.table([]).empty)

    def test_assign_by_name_sets_every_trainable_variable(self):
        spec, _ = self.built(tiny_cfg(self.dir))
        values = {n: np.full(v.shape, i, np.float32) for i, (n, v) in enumerate(weights_by_path(spec.model).items())}
        rounds.assign_by_name(spec.model, values)
        for name, v in weights_by_path(spec.model).items():
            self.assertAllEqual(v, values[name])


class RunDoneProbe(keras.callbacks.Callback):
    """Records, at each training's start, whether the run directory is marked done."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir, self.seen = run_dir, []

    def on_train_begin(self, logs=None):
        self.seen.append(rundir.at(self.run_dir).is_done())


class TinyLoopTest(LoopTestCase):

    def test_a_complete_run_is_not_reopened(self):
        cfg = tiny_cfg(self.dir)
        run_dir = self.run_dir(cfg)
        rundir.at(run_dir).mark_done()
        self.assertFalse(rounds.KIND.open(lifecycle.MemberRun(0, cfg, run_dir, tiny_data())))
        self.assertFalse(os.path.exists(rundir.at(run_dir).flags))
        self.assertTrue(rounds.KIND.open(lifecycle.MemberRun(0, cfg.replace(branches="random"), run_dir, tiny_data())))
        self.assertFalse(rundir.at(run_dir).is_done())
        self.assertTrue(os.path.exists(rundir.at(run_dir).flags))

    def test_a_second_writer_fails_or_waits_as_asked(self):
        data = tiny_data()
        cfg = tiny_cfg(self.dir, rounds=1)
        run_dir = self.run_dir(cfg)
        with rundir.writer_lock(run_dir):
            with self.assertRaises(rundir.RunInProgress):
                rounds.run(cfg, verbose=0, dataset=data)
        held = threading.Event()

        def hold_a_moment():
            with rundir.writer_lock(run_dir):
                held.set()
                time.sleep(0.5)

        holder = threading.Thread(target=hold_a_moment)
        holder.start()
        held.wait()
        with captured_stdout() as out:
            rounds.run(cfg.replace(wait_for_lock=True), verbose=0, dataset=data)
        holder.join()
        self.assertStartsWith(out.getvalue(), "waiting for ")
        self.assertTrue(rundir.at(run_dir).is_done())

    def test_two_rounds_rewound_to_w0_then_a_resume_trains_only_the_unfinished_round(self):
        data = tiny_data()
        cfg = tiny_cfg(self.dir, rmsd=True, rmsd_include_biases=True)
        with captured_stdout() as out, mock.patch.object(training, "build", wraps=training.build) as build:
            run_dir = rounds.run(cfg, verbose=0, dataset=data)
        self.assertEqual({c.args[2] for c in build.call_args_list}, {PER_EPOCH})  # epochs in the schedule: 3 steps
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[:5],  # progress lines only: no progress bars at verbose=0
                         ["round 1 of 2 (round-00)", f"training into {rundir.at(run_dir).round(0)}",
                          "round 2 of 2 (round-01)", f"training into {rundir.at(run_dir).round(1)}",
                          f"done: {run_dir}"])
        # then each round's remaining weights and test accuracy (issue 24.7)
        table = pd.read_csv(rundir.at(run_dir).summary_table + ".csv")
        self.assertEqual(lines[5], "  round  branch          weights remaining      test accuracy (best)")
        for line, row in zip(lines[6:], table.itertuples(), strict=True):
            self.assertEqual(line.split(), [str(row.round), "trunk", f"{row.weights_remaining:,}",
                                            f"({row.fraction_remaining:.1%})", f"{row.test_accuracy:.4f}",
                                            f"({row.best_test_accuracy:.4f})"])
        self.assertTrue(tf_config.is_op_determinism_enabled())  # --nondeterminism=deterministic
        self.assertEqual(run_dir, rundir.path_for(cfg))
        self.assertTrue(rundir.at(run_dir).is_done())
        self.assertTrue(os.path.exists(rundir.at(run_dir).flags))
        summary = pd.read_csv(rundir.at(run_dir).summary_table + ".csv")
        self.assertEqual(summary["round"].tolist(), [0, 1])
        self.assertEqual(summary["start_step"].tolist(), [0, 0])
        self.assertEqual(summary["end_step"].tolist(), [6, 6])
        self.assertEqual(summary["steps_per_epoch"].tolist(), [3, 3])
        self.assertEqual(summary["remaining/hidden_1/kernel"].tolist(), [288, 144])
        self.assertEqual(summary["remaining/output/kernel"].tolist(), [24, 24 - math.ceil(0.25 * 24)])
        w0 = np.load(rundir.at(run_dir).round(0).snapshot(0))
        start = np.load(rundir.at(run_dir).round(1).snapshot(0))
        mask = masks_lib.load(rundir.at(run_dir).round(1).mask)
        for name in w0.files:
            self.assertAllEqual(start[name], w0[name] * mask[name] if name in mask else w0[name])
        final = np.load(rundir.at(run_dir).round(1).final_weights)
        self.assertAllEqual(final["hidden_1/kernel"][~mask["hidden_1/kernel"]], np.zeros(144, np.float32))
        # RMSD (paper 000) from the round's own start, biases included as asked
        squares = sum(float(np.sum((final[n].astype(np.float64) - start[n]) ** 2)) for n in start.files)
        rmsd = pd.read_csv(rundir.at(run_dir).round(1).history)["rmsd"].iloc[-1]
        self.assertAllClose(rmsd, (squares / sum(start[n].size for n in start.files)) ** 0.5, rtol=1e-5)
        self.assertFalse(os.path.exists(rundir.at(run_dir).round(1).save_points))
        self.assertTrue(os.path.exists(os.path.join(rundir.at(run_dir).round(0).save_points,
                                                    step_name(0) + ".json")))
        with mock.patch.object(rounds, "train_round", side_effect=AssertionError("trained again")):
            self.assertEqual(rounds.run(cfg, verbose=0, dataset=data), run_dir)
        rundir.at(run_dir).round(1).clear_done()  # as if killed in round 1
        rundir.at(run_dir).clear_done()
        os.remove(rundir.at(run_dir).summary_table + ".csv")
        with mock.patch.object(rounds, "train_round", wraps=rounds.train_round) as trained, \
                self.assertLogs("absl", "INFO") as logs:
            rounds.run(cfg, verbose=0, dataset=data)
        self.assertEqual([(c.args[1], len(c.args[0])) for c in trained.call_args_list], [(1, 1)])
        self.assertIn("round 0 already done", [r.getMessage() for r in logs.records])
        self.assertTrue(rundir.at(run_dir).is_done())
        self.assertEqual(pd.read_csv(rundir.at(run_dir).summary_table + ".csv")["round"].tolist(), [0, 1])

    def test_as_released_the_optimizer_counts_on_and_branches_added_later_train_alone(self):
        data = tiny_data()
        cfg = tiny_cfg(self.dir, rewind="2it", reset_optimizer=False, prune_biases=True, prune_rounding="floor",
                       prune_fraction=0.3, telemetry=True, telemetry_window="2it")
        run_dir = rounds.run(cfg, verbose=0, dataset=data)
        summary = pd.read_csv(rundir.at(run_dir).summary_table + ".csv")
        self.assertEqual(summary["start_step"].tolist(), [0, 6])
        self.assertEqual(summary["end_step"].tolist(), [6, 10])  # T - k = 4 more steps
        self.assertEqual(summary["remaining/hidden_1/bias"].tolist(), [8, 8 - math.floor(0.3 * 8)])
        self.assertEqual(summary["remaining/hidden_1/kernel"].tolist(), [288, 288 - math.floor(0.3 * 288)])
        self.assertTrue(os.path.exists(os.path.join(rundir.at(run_dir).round(0), "telemetry.csv")))
        self.assertFalse(os.path.exists(os.path.join(rundir.at(run_dir).round(1), "telemetry.csv")))
        self.assertEqual(training_state.read_step(rundir.at(run_dir).round(1), "final_state"), 10)
        self.assertTrue(os.path.exists(rundir.at(run_dir).round(0).snapshot_at(steps.Step(2, PER_EPOCH))))
        trunk = np.load(rundir.at(run_dir).round(1).final_weights)["hidden_1/kernel"]
        with_branch = cfg.replace(branches="shuffle_unit,init")
        probe = RunDoneProbe(run_dir)
        with mock.patch.object(rounds, "train_round", wraps=rounds.train_round) as trained, captured_stdout() as out:
            self.assertEqual(rounds.run(with_branch, extra_callbacks=[probe], dataset=data), run_dir)
        branch_dir = rundir.at(run_dir).round(1).branch("init")
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[:2], [f"{run_dir}: adding branches init, shuffle_unit", "round 1, branch shuffle_unit"])
        self.assertIn("round 1, branch init", lines)
        self.assertIn(f"training into {branch_dir}", lines)
        self.assertIn(f"done: {run_dir}", lines)
        self.assertRegex(lines[-1], r"^ +1  shuffle_unit ")  # the summary: branches after their round
        self.assertIn("━", out.getvalue())  # verbose=1 by default: a progress bar
        self.assertEqual([c.args[2] for c in trained.call_args_list], ["shuffle_unit", "init"])
        self.assertNotEmpty(probe.seen)
        self.assertNotIn(True, probe.seen)  # reopened: not marked done while the branch trains
        self.assertFalse(os.path.exists(os.path.join(rundir.at(run_dir).round(1).branch("init"), "telemetry.csv")))
        self.assertTrue(rundir.at(run_dir).is_done())
        self.assertAllEqual(np.load(rundir.at(run_dir).round(1).final_weights)["hidden_1/kernel"],
                            trunk)
        summary = pd.read_csv(rundir.at(run_dir).summary_table + ".csv")
        self.assertEqual(list(zip(summary["round"], summary["branch"])), [(0, "trunk"), (1, "trunk"), (1, "init"),
                                                                         (1, "shuffle_unit")])
        branch = summary[summary["branch"] == "init"].iloc[0]
        self.assertEqual((branch["start_step"], branch["end_step"]), (6, 10))
        branch_final = np.load(rundir.at(branch_dir).final_weights)["hidden_1/kernel"]
        self.assertNotAllClose(branch_final, trunk)  # trained from w(0) at step k
        changed = r"(rmsd|correlations): False -> True"
        with self.assertRaisesRegex(errors.UserError, rf"^{re.escape(run_dir)} was started with other instruments "
                                    rf"\({changed}; {changed}\): add branches with the same instrument flags, "
                                    "or use another --experiment$"):
            rounds.run(cfg.replace(branches="init_magnitudes", rmsd=True, correlations=True), verbose=0, dataset=data)
        self.assertTrue(rundir.at(run_dir).is_done())

    def test_imp_after_rotation_pretraining_keeps_w0s_real_head_and_sparse_rounds_pretrain_their_own(self):
        data = tiny_data(classes=3)
        cfg = tiny_cfg(self.dir, pretrain="rotation", pretrain_length="2it", sparse_pretrain=True, prune_biases=True,
                       pretrain_protocol="package")
        with captured_stdout() as out:
            run_dir = rounds.run(cfg, verbose=1, dataset=data)
        trainings = out.getvalue().split("training into ")[1:]  # pre-training and round 0, then round 1's
        self.assertLen(trainings, 4)
        for text in trainings:
            self.assertIn("test_accuracy", text)  # verbose=1 reaches every training: a progress bar each
        w0 = weights_by_path(training.build(cfg, data.info, PER_EPOCH).model)
        for r, directory in ((0, os.path.join(run_dir, "pretrain")),
                             (1, os.path.join(rundir.at(run_dir).round(1), "pretrain"))):
            with open(os.path.join(directory, "task.json")) as f:
                task = json.load(f)
            mask = masks_lib.load(rundir.at(run_dir).round(r).mask)
            self.assertEqual(task, {"task": "rotation", "protocol": "package", "steps": 2, "steps_per_epoch": 12,
                                    "blur_factor": None,
                                    "weights_remaining": int(sum(m.sum() for m in mask.values()))})
            pretrained = rundir.read_npz(os.path.join(directory, "final.npz"))
            self.assertEqual(pretrained["output/kernel"].shape, (8, 4))
            for name in ("hidden_1/kernel", "hidden_2/bias"):  # pre-trained under the round's mask
                self.assertAllEqual(pretrained[name][~mask[name]], np.zeros(int((~mask[name]).sum()), np.float32))
            start = np.load(rundir.at(run_dir).round(r).snapshot(0))
            self.assertAllEqual(start["hidden_1/kernel"], pretrained["hidden_1/kernel"] * mask["hidden_1/kernel"])
            self.assertAllEqual(start["hidden_2/bias"], pretrained["hidden_2/bias"])
            self.assertAllEqual(start["output/kernel"], w0["output/kernel"] * mask["output/kernel"])
            self.assertAllEqual(start["output/bias"], w0["output/bias"])
            self.assertEqual(pd.read_csv(rundir.at(directory).history)["step"].iloc[-1], 2)
        self.assertEqual(pd.read_csv(rundir.at(run_dir).summary_table + ".csv")["start_step"].tolist(), [0, 0])
        head = rundir.read_npz(os.path.join(rundir.at(run_dir).round(1), "pretrain", "final.npz"))["output/kernel"]
        self.assertEqual(int(np.count_nonzero(head)), head.size)  # the 4-way head is not masked


class PretrainingPartsTest(LoopTestCase):

    def test_open_lth_protocol_starts_every_round_at_the_pretraining_length_from_its_end_head_kept(self):
        """open_lth: train_start_step = the pre-training length; every level starts there from the
        pre-trained weights (rotation's head included) with a new optimizer, and ends at T."""
        data = tiny_data(classes=4)
        cfg = tiny_cfg(self.dir, pretrain="rotation", pretrain_length="2it", snapshots="2it")
        run_dir = rounds.run(cfg, verbose=0, dataset=data)
        summary = pd.read_csv(rundir.at(run_dir).summary_table + ".csv")
        self.assertEqual(summary["start_step"].tolist(), [2, 2])
        self.assertEqual(summary["end_step"].tolist(), [6, 6])  # 2 epochs of 3 steps: T = 6
        with open(os.path.join(run_dir, "pretrain", "task.json")) as f:
            self.assertEqual(json.load(f)["protocol"], "open_lth")
        pretrained = rundir.read_npz(os.path.join(run_dir, "pretrain", "final.npz"))
        self.assertEqual(pretrained["output/kernel"].shape, (8, 4))  # the real task's 4 classes: one head
        for r in (0, 1):
            start = np.load(rundir.at(run_dir).round(r).snapshot_at(steps.Step(2, PER_EPOCH)))
            mask = masks_lib.load(rundir.at(run_dir).round(r).mask)
            for name in start.files:
                self.assertAllEqual(start[name], pretrained[name] * mask[name] if name in mask else pretrained[name])
            history = pd.read_csv(rundir.at(run_dir).round(r).history)
            self.assertEqual(history["step"].iloc[-1], 6)
        package = cfg.replace(pretrain_protocol="package")
        self.assertEqual(package.pruning.rewind_step(PER_EPOCH), 0)
        self.assertEqual(cfg.pruning.rewind_step(PER_EPOCH), 2)
        self.assertNotEqual(package.run_hash(), cfg.run_hash())
        self.assertNotIn("pretrain_protocol", tiny_cfg(self.dir).non_default_identity())

    def test_dense_pretraining_on_random_labels_is_the_rewind_point_of_every_round_head_included(self):
        data = tiny_data()
        cfg = tiny_cfg(self.dir, pretrain="random_labels", pretrain_length="2it", pretrain_protocol="package")
        with mock.patch.object(pretraining, "altered", wraps=pretraining.altered) as altered:
            run_dir = rounds.run(cfg, verbose=0, dataset=data)
        self.assertEqual([c.args[1:] for c in altered.call_args_list],
                         [("random_labels", seeds.derive(cfg.training.seeds.data, "pretrain"), 4, "package")])
        self.assertFalse(os.path.exists(rundir.at(run_dir).pretraining(1)))
        pretrained = rundir.read_npz(os.path.join(run_dir, "pretrain", "final.npz"))
        for r in (0, 1):
            start = np.load(rundir.at(run_dir).round(r).snapshot(0))
            mask = masks_lib.load(rundir.at(run_dir).round(r).mask)
            for name in start.files:
                self.assertAllEqual(start[name], pretrained[name] * mask[name] if name in mask else pretrained[name])

    def test_pretraining_counts_epochs_in_the_tasks_steps_and_shows_progress_when_asked(self):
        data = tiny_data()  # rotation: 4 x 48 examples, 12 steps an epoch
        finals = {}
        for boundaries in ("", "1", "1it"):
            cfg = tiny_cfg(self.dir, pretrain="rotation", pretrain_length="2it", lr_boundaries=boundaries,
                           lr_factor=0.1, pretrain_protocol="package")
            spec, masks = self.built(cfg, data.info)
            directory = os.path.join(self.dir, f"pretrain-{boundaries}")
            with captured_stdout() as out:
                pretraining.pretrain(cfg, directory, spec, masks, data, 1 if boundaries else 0)
            first = f"training into {directory}\n"
            if boundaries:  # verbose=1: a progress bar follows
                self.assertStartsWith(out.getvalue(), first)
                self.assertGreater(len(out.getvalue()), len(first))
            else:
                self.assertEqual(out.getvalue(), first)
            finals[boundaries] = rundir.read_npz(os.path.join(directory, "final.npz"))["hidden_1/kernel"]
        self.assertAllEqual(finals["1"], finals[""])  # epoch 1 ends at step 12, after the 2 steps
        self.assertNotAllClose(finals["1it"], finals[""])

    def test_pretraining_keeps_batch_norm_statistics_and_is_not_repeated_once_done(self):
        data = tiny_data(size=8)
        cfg = tiny_cfg(self.dir, model="resnet", resnet_depth=8, resnet_width=2, pretrain="blur",
                       pretrain_length="2it", pretrain_blur_factor=2)
        spec, masks = self.built(cfg, data.info)
        directory = os.path.join(self.dir, "pretrain")
        pretraining.pretrain(cfg, directory, spec, masks, data, 0)
        self.assertTrue(rundir.at(directory).is_done())
        with open(os.path.join(directory, "task.json")) as f:
            self.assertEqual(json.load(f)["blur_factor"], 2)
        saved = rundir.read_npz(os.path.join(directory, "final.npz"))
        loaded = weights_by_path(spec.model, non_trainable=True)
        moving = [n for n in saved if n.endswith("moving_mean")]
        self.assertNotEmpty(moving)
        for name in saved:
            self.assertAllEqual(loaded[name], saved[name])
        self.assertGreater(max(float(np.abs(saved[n]).max()) for n in moving), 0.0)  # trained statistics
        again, again_masks = self.built(cfg, data.info)
        with mock.patch.object(training, "fit_into", side_effect=AssertionError("pre-trained again")):
            pretraining.pretrain(cfg, directory, again, again_masks, data, 0)
        for name, values in weights_by_path(again.model, non_trainable=True).items():
            self.assertAllEqual(values, saved[name])

    def test_each_task_alters_both_splits(self):
        data = tiny_data(size=8)
        labels = pretraining.altered(data, "random_labels", 5, 4, "package")
        self.assertAllEqual(labels.train.labels, pretraining.random_labels(data.train, 5).labels)
        self.assertAllEqual(labels.test.labels, pretraining.random_labels(data.test, 6).labels)
        self.assertIs(labels.info, data.info)
        uniform = pretraining.altered(data, "random_labels", 5, 4)  # open_lth: a fresh uniform draw per image
        self.assertAllEqual(uniform.train.labels, np.random.default_rng(5).integers(3, size=48))
        self.assertAllEqual(uniform.test.labels, np.random.default_rng(6).integers(3, size=24))
        self.assertNotAllEqual(np.bincount(uniform.train.labels, minlength=3), np.bincount(data.train.labels))
        blurred = pretraining.altered(data, "blur", 5, 4)
        self.assertAllEqual(blurred.train.images, pretraining.blur(data.train, 4).images)
        self.assertAllEqual(blurred.test.images, pretraining.blur(data.test, 4).images)
        self.assertFalse(np.array_equal(blurred.test.images, pretraining.blur(data.test, 2).images))
        four = tiny_data(classes=4, size=8)
        once = pretraining.altered(four, "rotation", 5, 4)  # open_lth: one seeded rotation per image, head kept
        turns = np.random.default_rng(5).integers(4, size=48)
        self.assertAllEqual(once.train.labels, turns)
        for i in (0, 1, 2, 3, 47):
            self.assertAllEqual(once.train.images[i], np.rot90(four.train.images[i], turns[i], axes=(0, 1)))
        self.assertIs(once.info, four.info)
        self.assertLen(once.test, 24)
        self.assertGreater(len(set(turns)), 2)
        with self.assertRaisesRegex(errors.UserError, "needs at least 4 classes, tiny has 3"):
            pretraining.altered(data, "rotation", 5, 4)
        with self.assertRaisesRegex(errors.UserError, r"^--pretrain=rotation keeps the output layer"):
            rounds.KIND.schedule(tiny_cfg(self.dir, pretrain="rotation", pretrain_length="2it"), data)
        rotated = pretraining.altered(data, "rotation", 5, 4, "package")
        self.assertLen(rotated.train, 4 * 48)
        self.assertLen(rotated.test, 4 * 24)
        self.assertEqual((rotated.info.num_classes, rotated.info.input_shape), (4, (8, 8, 1)))
        self.assertEqual(rotated.info.class_names, ("0 degrees", "90 degrees", "180 degrees", "270 degrees"))
        with self.assertRaisesRegex(ValueError, "^unknown pre-training task 'jigsaw'$"):
            pretraining.altered(data, "jigsaw", 5, 4)
        wide = base.Dataset(data.train, data.test, base.DatasetInfo("w", 3, (8, 6, 1), tuple("abc")))
        with self.assertRaisesRegex(ValueError, "^rotation pre-training needs square images$"):
            pretraining.altered(wide, "rotation", 5, 4, "package")

    def test_blur_of_a_non_multiple_size_over_three_chunks_keeps_normalised_values(self):
        rng = np.random.default_rng(0)
        images = rng.uniform(-2.0, 3.0, (8200, 7, 7, 1)).astype(np.float32)  # as after --normalize
        blurred = pretraining.blur(base.Split(images, np.zeros(8200, np.int64)), 3)
        small = tf.image.resize(images, (2, 2), method="area")  # 7 // 3 = 2: 2 x 2, back to 7 x 7, in one go
        self.assertAllClose(blurred.images, tf.image.resize(small, (7, 7), method="bilinear"), atol=1e-6)
        self.assertLess(float(blurred.images.min()), -0.5)
        self.assertGreater(float(blurred.images.max()), 1.5)
        tiny = pretraining.blur(base.Split(images[:2, :2, :2], np.zeros(2, np.int64)), 4)  # at least 1 x 1
        self.assertAllClose(tiny.images, np.broadcast_to(images[:2, :2, :2].mean(axis=(1, 2), keepdims=True),
                                                         (2, 2, 2, 1)), atol=1e-6)

    def test_pretrain_dir_and_loading_with_or_without_the_head(self):
        self.assertEqual(rundir.at("/r").pretraining(0), os.path.join("/r", "pretrain"))
        self.assertEqual(rundir.at("/r").pretraining(2), os.path.join(rundir.at("/r").round(2), "pretrain"))
        cfg = tiny_cfg(self.dir)
        spec = training.build(cfg, tiny_data().info, PER_EPOCH)
        w0 = weights_by_path(spec.model)
        values = {n: v + 1 for n, v in w0.items() if n != "hidden_2/bias"}
        for keep in (True, False):
            pretraining.load_pretrained(spec, values, keep_output=keep)
            got = weights_by_path(spec.model)
            self.assertAllEqual(got["hidden_1/kernel"], w0["hidden_1/kernel"] + 1)
            self.assertAllEqual(got["hidden_2/bias"], w0["hidden_2/bias"])  # not in the values: kept
            for name in ("output/kernel", "output/bias"):
                self.assertAllEqual(got[name], w0[name] + 1 if keep else w0[name])
            rounds.assign_by_name(spec.model, w0)


if __name__ == "__main__":
    tf.test.main()
