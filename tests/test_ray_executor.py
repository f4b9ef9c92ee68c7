"""Sweeps on Ray (a local runtime of 2 CPUs): the same table as the local executor, and a
worker killed mid-run is retried by Ray and resumes from its checkpoint.

Skipped, with the reason, where Ray is not installed (pip install ".[ray]"; CI installs it).
"""
import os
import signal
import threading
import time
import unittest

import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from keras_initstudy import callbacks, config, executors, grid, rundir, runners, sweep

try:
    import psutil
    import ray
except ImportError:  # pragma: no cover - depends on the install
    ray = None

BASE = dict(width=8, nondeterminism="deterministic", snapshots="0,2", weight_images=False)


def worker_processes():
    return [p for p in psutil.process_iter(["cmdline"])
            if (p.info["cmdline"] or [""])[0].startswith(f"ray::{executors.TASK_NAME}")]


@unittest.skipIf(ray is None, "Ray is not installed (pip install \".[ray]\")")
class RayExecutorTest(tf.test.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.executor = executors.RayExecutor(num_cpus=2, cpus_per_run=1)

    @classmethod
    def tearDownClass(cls):
        if ray is not None and ray.is_initialized():
            ray.shutdown()
        super().tearDownClass()

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def grid_in(self, folder, axes=("width=4,8", "seed=0,1"), **kw):
        base = config.ExperimentConfig().replace(output_dir=os.path.join(self.get_temp_dir(), folder),
                                                 **{**BASE, "epochs": 2, **kw})
        return grid.expand(base, grid.parse_axes(axes))

    def test_ray_gives_the_local_table_on_a_4_run_grid(self):
        tables = {}
        for name, executor in (("local", executors.LocalExecutor()), ("ray", self.executor)):
            run_dirs, failures = sweep.run_grid(self.grid_in(name), executor=executor, progress=False)
            self.assertEmpty(failures)
            self.assertLen(run_dirs, 4)
            tables[name] = runners.get("train").table(run_dirs).drop(columns=["run_dir", "wall_time"])
        local, remote = tables["local"], tables["ray"]
        self.assertEqual(list(local.columns), list(remote.columns))
        self.assertEqual(local["run_name"].tolist(), remote["run_name"].tolist())
        numeric = local.select_dtypes("number").columns
        # Ray's workers use 1 thread (cpus_per_run), this process 2: CPU kernels may sum in another
        # order, so numbers agree to float32 rounding, not necessarily bit for bit.
        self.assertAllClose(local[numeric].to_numpy(float), remote[numeric].to_numpy(float), rtol=1e-4, atol=1e-6)

    def test_ray_trains_seed_ensembles_into_the_single_runs_directories(self):
        tables = {}
        for name, executor, size in (("local", executors.LocalExecutor(), 1), ("ray", self.executor, 3)):
            configs = self.grid_in(f"ensemble-{name}", axes=["seed=0..2"])
            run_dirs, failures = sweep.run_grid(configs, executor=executor, progress=False, ensemble_size=size)
            self.assertEmpty(failures)
            self.assertLen(set(run_dirs), 3)
            tables[name] = runners.get("train").table(run_dirs).drop(columns=["run_dir", "wall_time"])
        self.assertEqual(tables["local"]["run_name"].tolist(), tables["ray"]["run_name"].tolist())
        numeric = tables["local"].select_dtypes("number").columns
        self.assertAllClose(tables["local"][numeric].to_numpy(float), tables["ray"][numeric].to_numpy(float),
                            rtol=1e-4, atol=1e-6)

    def test_prune_grids_run_on_ray(self):
        from keras_initstudy.pruning.config import PruneExperimentConfig
        tables = {}
        for name, executor in (("local", executors.LocalExecutor()), ("ray", self.executor)):
            base = PruneExperimentConfig().replace(
                output_dir=os.path.join(self.get_temp_dir(), f"prune-{name}"), model="lenet_300_100", steps=10,
                rounds=2, optimizer="adam", learning_rate=0.0012, correlations=False,
                **{k: v for k, v in BASE.items() if k != "width"})
            configs = grid.expand(base, grid.parse_axes(["seed=0,1"], PruneExperimentConfig))
            run_dirs, failures = sweep.run_grid(configs, "prune", executor=executor, progress=False)
            self.assertEmpty(failures)
            tables[name] = runners.get("prune").table(run_dirs)
        self.assertLen(tables["ray"], 4)  # 2 runs x 2 rounds
        self.assertEqual(tables["ray"]["weights_remaining"].tolist(), tables["local"]["weights_remaining"].tolist())
        self.assertAllClose(tables["ray"]["test_accuracy"], tables["local"]["test_accuracy"], atol=2e-3)

    def test_a_killed_worker_is_retried_and_resumes(self):
        configs = self.grid_in("killed", axes=["seed=0,1"], epochs=40, width=16)
        target = rundir.path_for(executors.absolute_paths(configs)[0])
        killed = []

        def kill_when_checkpointed():
            """SIGKILLs the running workers once the first run has a checkpoint and is not done."""
            state = os.path.join(rundir.at(target).checkpoints, "state.json")
            deadline = time.time() + 240
            while time.time() < deadline and not killed:
                if os.path.exists(state) and not rundir.at(target).is_done():
                    for process in worker_processes():
                        process.send_signal(signal.SIGKILL)
                        killed.append(process.pid)
                time.sleep(0.05)

        killer = threading.Thread(target=kill_when_checkpointed)
        killer.start()
        run_dirs, failures = sweep.run_grid(configs, executor=self.executor, progress=False)
        killer.join()
        self.assertNotEmpty(killed, "no worker was killed")
        self.assertEmpty(failures)
        self.assertLen(run_dirs, 2)
        self.assertLen(set(run_dirs), 2)
        for run_dir in run_dirs:
            rows = callbacks.read_history(rundir.at(run_dir).history)
            self.assertEqual([int(r["epoch"]) for r in rows], list(range(1, 41)))  # each epoch exactly once
            self.assertTrue(rundir.at(run_dir).is_done())
        table = runners.get("train").table(run_dirs)
        self.assertEqual(table.groupby("run_name").size().tolist(), [41, 41])  # epochs 0..40, once per run
        again, _ = sweep.run_grid(configs, executor=self.executor, progress=False)  # finished: skipped
        self.assertEqual(again, run_dirs)


if __name__ == "__main__":
    tf.test.main()
