"""The run directory's layout and its writers' promises (rundir.py): every file at its
documented name, writes that readers never see half done or overwritten in place, file
modes from the umask read without changing it, and the lock's holder line."""
import builtins
import json
import fcntl
import io
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from unittest import mock

import numpy as np
import pandas as pd
import tensorflow as tf

from keras_initstudy import config, rundir, steps
from tests.class_tempdir import TempDirTestCase


class RunDirTestCase(TempDirTestCase):

    def path(self, *names):
        return os.path.join(self.dir, *names)


class LayoutTest(RunDirTestCase):

    def test_every_file_has_its_documented_name(self):
        run = rundir.RunDir("/runs/mlp_mnist-1234abcd")
        layout = {"flags": "flags.txt", "config": "config.json", "environment": "environment.json",
                  "history": "history.csv", "checkpoints": "checkpoint", "tensorboard": "tb",
                  "snapshots": "snapshots", "save_points": "savepoints", "rmsd_steps": "rmsd_steps.csv",
                  "model": "model.keras", "data_sizes": "data.json", "summary": "summary.json", "done": "DONE",
                  "lock": "LOCK", "gradients": "gradients.csv", "fits": "fits.csv", "telemetry": "telemetry.csv",
                  "telemetry_final": "telemetry_final.csv", "telemetry_dir": "telemetry",
                  "telemetry_states": "telemetry/states", "telemetry_initial": "telemetry/initial.npy",
                  "mask": "mask.npz", "final_weights": "final.npz", "round_record": "round.json", "task": "task.json",
                  "summary_table": "summary"}
        for attribute, name in layout.items():
            self.assertEqual(getattr(run, attribute), f"{run}/{name}", msg=attribute)
        self.assertEqual(run.snapshot(7), f"{run}/snapshots/epoch-00007.npz")
        self.assertEqual(run.snapshot_at(steps.Step(30, 10)), f"{run}/snapshots/epoch-00003.npz")
        self.assertEqual(run.snapshot_at(steps.Step(123, 10)), f"{run}/snapshots/step-000000123.npz")
        self.assertEqual(run.telemetry_state(40), f"{run}/telemetry/states/step-40.npy")
        self.assertEqual(run.state_weights("final_state"), f"{run}/final_state.weights.h5")
        self.assertEqual(run.state_index("final_state"), f"{run}/final_state.json")
        self.assertEqual(run.tensorboard_run("weights"), f"{run}/tb/weights")

    def test_rounds_branches_and_pretraining_are_run_directories_too(self):
        run = rundir.RunDir("/runs/lenet-1")
        self.assertEqual(run.round(3), "/runs/lenet-1/round-03")
        self.assertIsInstance(run.round(3), rundir.RunDir)
        self.assertEqual(run.round(3).branch("init").mask, "/runs/lenet-1/round-03/branches/init/mask.npz")
        self.assertEqual(run.round(12).branch("init").history, "/runs/lenet-1/round-12/branches/init/history.csv")
        self.assertEqual(run.pretraining(), "/runs/lenet-1/pretrain")
        self.assertEqual(run.pretraining(2).task, "/runs/lenet-1/round-02/pretrain/task.json")
        self.assertIs(rundir.at(run), run)
        self.assertEqual(rundir.at("/x"), rundir.RunDir("/x"))

    def test_listings_read_only_what_their_writers_name(self):
        run = rundir.RunDir(self.dir)
        self.assertEqual((run.round(1).branch_names(), run.telemetry_state_steps(), run.state_names()), ([], [], []))
        for name in ("init", "shuffle_unit"):
            os.makedirs(run.round(1).branch(name))
        os.makedirs(run.telemetry_states)
        for step in (40, 3, 100):
            open(run.telemetry_state(step), "w").close()
        open(os.path.join(run.telemetry_states, "notes.txt"), "w").close()
        for name in ("step-00000010", "step-00000002", "final_state"):
            open(run.state_index(name), "w").close()
        self.assertEqual(run.round(1).branch_names(), ["init", "shuffle_unit"])
        self.assertEqual(run.telemetry_state_steps(), [3, 40, 100])
        self.assertEqual(run.state_names("step-"), ["step-00000002", "step-00000010"])
        os.makedirs(self.path("a-run"))
        rundir.write_text(rundir.RunDir(self.path("a-run")).config, "{}")
        os.makedirs(self.path("not-a-run"))
        self.assertEqual(rundir.runs_in(self.dir), [self.path("a-run")])
        self.assertEqual(rundir.runs_in(self.path("missing")), [])

    def test_settings_files(self):
        cfg = config.ExperimentConfig().replace(width=64, output_dir=self.dir, experiment="exp")
        run_dir = rundir.path_for(cfg)
        self.assertEqual(run_dir, os.path.join(self.dir, cfg.run_name()))
        self.assertStartsWith(cfg.run_name(), "exp-")
        rundir.write_settings(run_dir, cfg)
        with open(rundir.at(run_dir).flags) as f:
            self.assertEqual(f.read(), "\n".join(cfg.to_flag_lines()) + "\n")
        with open(rundir.at(run_dir).config) as f:
            written = json.load(f)
        self.assertEqual(written, {"run_name": cfg.run_name(), "hash_version": cfg.hash_version,
                                   "non_default": {"width": 64}, **json.loads(json.dumps(cfg.nested()))})

    def test_snapshot_epochs_lists_epoch_files_only(self):
        os.makedirs(rundir.at(self.dir).snapshots)
        for name in ("epoch-00010.npz", "epoch-00002.npz", "step-000000123.npz", ".tmp-x-epoch-00005.npz",
                     "epoch-00003.npz.bak", "notes-epoch-00004.npz"):
            open(self.path("snapshots", name), "w").close()
        self.assertEqual(rundir.at(self.dir).snapshot_epochs(), [2, 10])
        self.assertEqual(rundir.at(self.path("missing")).snapshot_epochs(), [])

    def test_done_marker(self):
        self.assertFalse(rundir.at(self.dir).is_done())
        rundir.at(self.dir).mark_done()
        self.assertTrue(rundir.at(self.dir).is_done())
        rundir.at(self.dir).clear_done()
        self.assertFalse(rundir.at(self.dir).is_done())
        rundir.at(self.dir).clear_done()  # clearing twice is no error


class WritersTest(RunDirTestCase):

    def test_text_rows_json_npz_and_table_round_trip(self):
        rundir.write_text(self.path("a", "t.txt"), "naïve ✓\n")  # the folder is made
        with open(self.path("a", "t.txt"), "rb") as f:
            self.assertEqual(f.read(), "naïve ✓\n".encode("utf-8"))
        rundir.write_rows(self.path("h.csv"), [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "rmsd": 0.1}])
        with open(self.path("h.csv"), "rb") as f:
            self.assertEqual(f.read(), b"epoch,loss,rmsd\n1,0.5,\n2,,0.1\n")  # every key, \n line ends
        rundir.write_json(self.path("c.json"), {"b": 1, "a": [1, 2]})
        with open(self.path("c.json")) as f:
            self.assertEqual(f.read(), '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n')
        arrays = {"hidden_1/kernel": np.arange(6, dtype=np.float32).reshape(2, 3), "bias": np.zeros(3)}
        rundir.write_npz(self.path("w.npz"), arrays)
        read = rundir.read_npz(self.path("w.npz"))
        self.assertEqual(list(read), list(arrays))
        for name, value in arrays.items():
            self.assertAllEqual(read[name], value)
            self.assertEqual(read[name].dtype, value.dtype)
        frame = pd.DataFrame({"width": [8, 16], "rmsd": [0.1, 0.2]}, index=[5, 6])
        rundir.write_table(frame, self.path("sweep"))
        self.assertEqual(open(self.path("sweep.csv")).read(), "width,rmsd\n8,0.1\n16,0.2\n")
        self.assertTrue(pd.read_parquet(self.path("sweep.parquet")).equals(frame.reset_index(drop=True)))
        self.assertEqual(sorted(os.listdir(self.dir)), ["a", "c.json", "h.csv", "sweep.csv", "sweep.parquet", "w.npz"])

    def test_text_is_utf8_whatever_the_locale(self):
        """Under an ASCII locale (C, without Python's UTF-8 mode) files are still UTF-8."""
        package_parent = os.path.dirname(os.path.dirname(rundir.__file__))
        env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
               "PYTHONPATH": package_parent}
        path = self.path("t.txt")
        subprocess.run([sys.executable, "-c", "import sys; from keras_initstudy import rundir; "
                        "rundir.write_text(sys.argv[1], 'na\\xefve')", path], env=env, check=True)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), "naïve".encode("utf-8"))

    def test_a_write_replaces_the_file_and_never_overwrites_it_in_place(self):
        """A reader holding the old file keeps reading the old bytes; the new file is a new inode."""
        path = self.path("history.csv")
        rundir.write_text(path, "old\n")
        before = os.stat(path).st_ino
        with open(path) as reader:
            rundir.write_text(path, "new, longer\n")
            self.assertEqual(reader.read(), "old\n")
        self.assertNotEqual(os.stat(path).st_ino, before)
        self.assertEqual(open(path).read(), "new, longer\n")

    def test_while_a_write_is_under_way_the_old_file_is_whole(self):
        path = self.path("sub", "model.keras")
        rundir.write_text(path, "old")
        with rundir.atomic_path(path) as tmp:
            self.assertEqual(os.path.dirname(tmp), os.path.dirname(path))  # one file system: rename is atomic
            name = os.path.basename(tmp)
            self.assertTrue(name.startswith(rundir.TEMPORARY_PREFIX) and name.endswith("-model.keras"), name)
            with open(tmp, "w") as f:
                f.write("half")
            self.assertEqual(open(path).read(), "old")
        self.assertEqual(open(path).read(), "half")
        self.assertEqual(os.listdir(self.path("sub")), ["model.keras"])

    def test_a_failed_write_leaves_the_old_file_and_no_temporary(self):
        writers = {
            "t.txt": lambda p: rundir.write_text(p, object()),  # TypeError in f.write
            "w.npz": lambda p: rundir.write_npz(p, {"a": np.zeros(3), "b": mock.Mock(side_effect=ValueError)}),
            "r.csv": lambda p: rundir.write_rows(p, [{"a": 1}, 5]),
        }
        for name, write in writers.items():
            path = self.path(name)
            with open(path, "w") as f:
                f.write("old")
            with self.assertRaises(Exception, msg=name):
                write(path)
            self.assertEqual(open(path).read(), "old", msg=name)
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(writers))

    def test_a_concurrent_reader_sees_only_whole_files(self):
        path = self.path("big.txt")
        versions = ["A" * 2_000_000, "B" * 1_000_000]
        rundir.write_text(path, versions[0])
        done = threading.Event()
        seen = set()

        def read_repeatedly():
            while not done.is_set():
                with open(path) as f:
                    text = f.read()
                seen.add((text[:1], len(text)))

        reader = threading.Thread(target=read_repeatedly)
        reader.start()
        try:
            for k in range(40):
                rundir.write_text(path, versions[k % 2])
        finally:
            done.set()
            reader.join()
        self.assertContainsSubset(seen, {("A", 2_000_000), ("B", 1_000_000)})

    def test_stale_temporaries_are_counted_and_removed(self):
        os.makedirs(self.path("snapshots"))
        for name in (".tmp-1-history.csv", "snapshots/.tmp-2-epoch-00001.npz", "history.csv"):
            open(self.path(name), "w").close()
        self.assertEqual(rundir.remove_stale_temporaries(self.dir), 2)
        self.assertEqual(rundir.remove_stale_temporaries(self.dir), 0)
        self.assertTrue(os.path.exists(self.path("history.csv")))


class FileModeTest(RunDirTestCase):

    def test_the_mode_comes_from_proc_without_touching_the_umask(self):
        if not os.path.exists("/proc/self/status"):
            self.skipTest("no /proc here")
        for umask, expected in ((0o022, 0o644), (0o027, 0o640)):
            previous = os.umask(umask)
            try:
                with mock.patch.object(rundir.os, "umask", side_effect=AssertionError("umask changed")):
                    mode = rundir.file_mode()
            finally:
                os.umask(previous)
            self.assertEqual(mode, expected)

    def test_without_proc_the_umask_is_read_and_restored(self):
        real_open = builtins.open

        def no_proc(path, *args, **kwargs):
            if str(path).startswith("/proc/"):
                raise FileNotFoundError(path)
            return real_open(path, *args, **kwargs)

        for umask, expected in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
            previous = os.umask(umask)
            try:
                with mock.patch.object(builtins, "open", no_proc):
                    self.assertEqual(rundir.file_mode(), expected)
                self.assertEqual(os.umask(umask), umask)  # restored
            finally:
                os.umask(previous)

    def test_written_files_get_the_mode(self):
        previous = os.umask(0o027)
        try:
            rundir.write_npz(self.path("w.npz"), {"a": np.zeros(1)})
        finally:
            os.umask(previous)
        self.assertEqual(stat.S_IMODE(os.stat(self.path("w.npz")).st_mode), 0o640)


class LockHolderTest(RunDirTestCase):

    def test_a_second_writer_is_refused_with_the_holders_line(self):
        with rundir.writer_lock(self.dir):
            holder = open(rundir.at(self.dir).lock).read()
            self.assertRegex(holder, rf"^pid {os.getpid()} on {socket.gethostname()} since \d{{4}}-\d\d-\d\dT"
                                     r"\d\d:\d\d:\d\d\n$")
            with self.assertRaises(rundir.RunInProgress) as refused:
                with rundir.writer_lock(self.dir):
                    self.fail("two writers")
            self.assertEqual(str(refused.exception),
                             f"{self.dir} is being written by {holder.strip()}; rerun when it has finished, "
                             "or pass --wait_for_lock to wait for it")
        with rundir.writer_lock(self.dir):  # released with its holder
            pass
        self.assertTrue(os.path.exists(rundir.at(self.dir).lock))  # the file stays

    def test_waiting_for_the_lock(self):
        other = self.path("nested", "other.lock")
        order = []
        with rundir.exclusive_lock(other, "the sweep table"):
            holder = open(other).read().strip()

            def second():
                with rundir.exclusive_lock(other, "the sweep table", wait=True):
                    order.append("second")

            thread = threading.Thread(target=second)
            with mock.patch("sys.stdout", new_callable=io.StringIO) as out:
                thread.start()
                time.sleep(0.3)
                order.append("first")
        thread.join()
        self.assertEqual(order, ["first", "second"])
        self.assertEqual(out.getvalue(), f"waiting for {holder} to finish writing the sweep table\n")

    def test_an_empty_lock_file_names_another_process(self):
        lock = self.path("x.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self.assertRaisesRegex(rundir.RunInProgress, "^what is being written by another process;"):
                with rundir.exclusive_lock(lock, "what"):
                    pass
        finally:
            os.close(fd)

    def test_the_holder_line_survives_bytes_that_are_not_utf8(self):
        lock = rundir.at(self.dir).lock
        with open(lock, "wb") as f:
            f.write(b"pid 7 on h\xff\xfe since then\n")
        fd = os.open(lock, os.O_RDONLY)
        try:
            self.assertEqual(rundir._read_holder(fd), "pid 7 on h\ufffd\ufffd since then")
        finally:
            os.close(fd)
        open(lock, "w").close()
        fd = os.open(lock, os.O_RDONLY)
        try:
            self.assertIsNone(rundir._read_holder(fd))
        finally:
            os.close(fd)


if __name__ == "__main__":
    tf.test.main()
