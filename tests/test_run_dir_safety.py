"""Run directories under concurrency and faults: one writer per run (an OS lock that dies with
its holder), one-line errors naming the path on write failures, umask-respecting file modes,
stale temporaries removed on resume, no stub directory for a run that cannot start,
and the exit status and message of Ctrl-C."""
import errno
import os
import signal
import stat
import subprocess
import sys
import time
from unittest import mock

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from keras_initstudy import config, errors, quiet, rundir, train_runner

SMALL = dict(width=8, epochs=1, snapshots="none", weight_images=False, nondeterminism="deterministic")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "TF_CPP_MIN_LOG_LEVEL": "3"}
HOLD = """
import sys, time
from keras_initstudy import rundir
with rundir.writer_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(run_dir, seconds):
    """A process (without TensorFlow) holding run_dir's lock for `seconds`; returns once it holds it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, run_dir, str(seconds)], stdout=subprocess.PIPE, text=True,
                            env=ENV)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def files_under(folder):
    return [os.path.join(d, f) for d, _, names in os.walk(folder) for f in names]


class LockTest(tf.test.TestCase):

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def cfg(self, **kw):
        return config.ExperimentConfig().replace(output_dir=self.get_temp_dir(), **{**SMALL, **kw})

    def test_a_second_writer_is_refused_with_the_holders_pid_and_host(self):
        cfg = self.cfg()
        run_dir = rundir.path_for(cfg)
        holder = hold_lock(run_dir, 60)
        try:
            with self.assertRaisesRegex(rundir.RunInProgress, f"pid {holder.pid} on .* --wait_for_lock"):
                train_runner.run(cfg, verbose=0)
            self.assertFalse(os.path.exists(rundir.at(run_dir).history))  # nothing was written
        finally:
            holder.kill()
            holder.wait()
        # SIGKILL ends the holder: its lock goes with it, and the run trains.
        train_runner.run(cfg, verbose=0)
        self.assertTrue(rundir.at(run_dir).is_done())

    def test_wait_for_lock_waits_then_trains(self):
        cfg = self.cfg(wait_for_lock=True)
        run_dir = rundir.path_for(cfg)
        holder = hold_lock(run_dir, 2)
        start = time.monotonic()
        train_runner.run(cfg, verbose=0)
        self.assertGreater(time.monotonic() - start, 1.0)
        self.assertEqual(holder.wait(timeout=30), 0)
        self.assertTrue(rundir.at(run_dir).is_done())

    def test_a_sweep_leaves_a_locked_run_to_its_writer(self):
        from keras_initstudy import sweep
        configs = [self.cfg(seed=seed) for seed in (0, 1)]
        holder = hold_lock(rundir.path_for(configs[0]), 60)
        try:
            run_dirs, failures = sweep.run_grid(configs, progress=False)
        finally:
            holder.kill()
            holder.wait()
        self.assertEqual(run_dirs, [rundir.path_for(configs[1])])
        self.assertLen(failures, 1)
        self.assertIn(f"is being written by pid {holder.pid}", failures[0]["error"])
        self.assertFalse(os.path.exists(rundir.at(rundir.path_for(configs[0])).history))

    def test_the_binary_gives_one_line_and_a_non_zero_status(self):
        cfg = self.cfg()
        holder = hold_lock(rundir.path_for(cfg), 120)
        try:
            result = subprocess.run([sys.executable, "-m", "keras_initstudy.train", "--width=8", "--epochs=1",
                                     "--snapshots=none", "--noweight_images", "--deterministic",
                                     f"--output_dir={cfg.run.output_dir}"], capture_output=True, text=True,
                                    env=ENV, timeout=240, cwd=ROOT)
        finally:
            holder.kill()
            holder.wait()
        self.assertEqual(result.returncode, 1)
        last = result.stderr.strip().splitlines()[-1]
        self.assertStartsWith(last, f"train: error: {rundir.path_for(cfg)} is being written by pid {holder.pid}")
        self.assertNotIn("Traceback", result.stderr)


class WriteFailureTest(tf.test.TestCase):

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def test_disk_full_is_one_line_naming_the_file_and_the_last_state_stays(self):
        """The disk fills while epoch 2's history row is written (simulated ENOSPC in the
        rename): one line naming history.csv, epoch 1's history intact, no temporary left."""
        cfg = config.ExperimentConfig().replace(output_dir=self.get_temp_dir(), **{**SMALL, "epochs": 2})
        run_dir = rundir.path_for(cfg)
        real_replace = os.replace
        written = []

        def full_disk_at_the_second_row(src, dst):
            if dst.endswith("history.csv"):
                written.append(dst)
                if len(written) == 2:
                    raise OSError(errno.ENOSPC, "No space left on device")
            return real_replace(src, dst)

        with mock.patch.object(rundir.os, "replace", side_effect=full_disk_at_the_second_row):
            with self.assertRaises(SystemExit) as ctx, errors.one_line_errors("train"):
                train_runner.run(cfg, verbose=0)
        self.assertEqual(str(ctx.exception.code),
                         f"train: error: cannot write {rundir.at(run_dir).history}: No space left on device")
        with open(rundir.at(run_dir).history) as f:
            self.assertEqual([line.split(",")[0] for line in f.read().strip().splitlines()], ["epoch", "1"])
        self.assertEmpty([f for f in files_under(run_dir) if os.path.basename(f).startswith(".tmp-")])
        self.assertFalse(rundir.at(run_dir).is_done())
        train_runner.run(cfg, verbose=0)  # space again: the run resumes and finishes
        with open(rundir.at(run_dir).history) as f:
            self.assertLen(f.read().strip().splitlines(), 3)

    def test_an_unwritable_output_directory_is_one_line(self):
        blocker = os.path.join(self.get_temp_dir(), "a_file")
        open(blocker, "w").close()
        cfg = config.ExperimentConfig().replace(output_dir=os.path.join(blocker, "runs"), **SMALL)
        with self.assertRaises(SystemExit) as ctx, errors.one_line_errors("train"):
            train_runner.run(cfg, verbose=0)
        self.assertRegex(str(ctx.exception.code), f"^train: error: cannot write {blocker}/runs.*: Not a directory$")

    def test_tensorflow_file_system_errors_are_one_line(self):
        error = tf.errors.PermissionDeniedError(None, None, "/out/tb/events.x; Permission denied")
        with self.assertRaises(SystemExit) as ctx, errors.one_line_errors("train"):
            raise error
        self.assertEqual(str(ctx.exception.code), "train: error: /out/tb/events.x; Permission denied")
        with self.assertRaises(tf.errors.InvalidArgumentError), errors.one_line_errors("train"):
            raise tf.errors.InvalidArgumentError(None, None, "a bug, not the disk")


class FileModeTest(tf.test.TestCase):

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def test_files_get_the_mode_the_umask_gives(self):
        for umask, expected in ((0o022, 0o644), (0o077, 0o600)):
            previous = os.umask(umask)
            try:
                self.assertEqual(rundir.file_mode(), expected)
                cfg = config.ExperimentConfig().replace(output_dir=os.path.join(self.get_temp_dir(), oct(umask)),
                                                        **{**SMALL, "snapshots": "0,1"})
                run_dir = train_runner.run(cfg, verbose=0)
            finally:
                os.umask(previous)
            paths = files_under(run_dir)
            self.assertContainsSubset({rundir.at(run_dir).history, rundir.at(run_dir).model,
                                       rundir.at(run_dir).snapshot(1), rundir.at(run_dir).config}, paths)
            for path in paths:
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), expected, msg=f"{oct(umask)} {path}")


class StaleTemporariesTest(tf.test.TestCase):

    def tearDown(self):
        tf_config.disable_op_determinism()
        super().tearDown()

    def test_a_resumed_run_removes_a_killed_writers_temporaries(self):
        cfg = config.ExperimentConfig().replace(output_dir=self.get_temp_dir(), **{**SMALL, "snapshots": "0,1"})
        run_dir = rundir.path_for(cfg)
        stale = [os.path.join(run_dir, "snapshots", ".tmp-abc123-epoch-00027.npz"),
                 os.path.join(run_dir, ".tmp-def456-history.csv")]
        for path in stale:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(b"x" * 1000)
        train_runner.run(cfg, verbose=0)
        self.assertTrue(rundir.at(run_dir).is_done())
        self.assertEmpty([f for f in files_under(run_dir) if os.path.basename(f).startswith(".tmp-")])


class FailedRunTest(tf.test.TestCase):

    def test_a_run_that_cannot_start_leaves_no_directory(self):
        """Documented choice: the run directory is made only once training can start."""
        out = self.get_temp_dir()
        cfg = config.ExperimentConfig().replace(output_dir=out, dataset="mnist", data_dir=os.path.join(out, "none"),
                                                download=False, **SMALL)
        with self.assertRaises(errors.UserError):
            train_runner.run(cfg, verbose=0)
        self.assertFalse(os.path.exists(rundir.path_for(cfg)))


FLAG_CHECK = """
import runpy, sys, time
start = time.monotonic()
sys.argv = sys.argv[1:]
try:
    runpy.run_module("keras_initstudy." + sys.argv[0], run_name="__main__")
except SystemExit as e:
    code = e.code
    if isinstance(code, str):  # as the interpreter does: the message to stderr, status 1
        sys.stderr.write(code + "\\n")
        code = 1
    print(repr(code), "tensorflow" in sys.modules, type(sys.modules.get("keras")).__name__,
          round(time.monotonic() - start, 2))
"""
BINARIES = ("train", "prune", "sweep", "determinism_compare", "replicate_features")


def flag_check(*args):
    """(exit status, TensorFlow imported, Keras module type, stderr) of a binary given `args`."""
    done = subprocess.run([sys.executable, "-c", FLAG_CHECK, *args], env=ENV, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    code, tensorflow_imported, keras_module, _ = done.stdout.split()[-4:]
    return int(code), tensorflow_imported == "True", keras_module, done.stderr


class FlagRejectionTest(tf.test.TestCase):

    def test_every_binary_rejects_a_bad_flag_before_importing_tensorflow(self):
        procs = {binary: subprocess.Popen([sys.executable, "-c", FLAG_CHECK, binary, "--widht=3"], env=ENV, cwd=ROOT,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for binary in BINARIES}
        for binary, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=120)
            code, tensorflow_imported, keras_module, seconds = stdout.split()
            self.assertEqual(code, "1", msg=binary)
            # one line (issue 24.6), not absl's two-line 'FATAL Flags parsing error'
            self.assertLen(stderr.splitlines(), 1, msg=binary)
            self.assertRegex(stderr, f"^{binary}: error: Unknown command line flag 'widht'.* "
                                     r"\(--help lists the flags\)\n$", msg=binary)
            self.assertEqual((tensorflow_imported, keras_module), ("False", "NoneType"), msg=binary)  # no keras
        code, tensorflow_imported, keras_module, stderr = flag_check("train", "--model=constnet", "--num_blocks=4")
        self.assertIn("multiple of 3", stderr)  # a config-level check: still before TensorFlow
        self.assertEqual((tensorflow_imported, keras_module), (False, "NoneType"))

    def test_unknown_activations_and_initializers_are_rejected_before_tensorflow(self):
        for flag, reason in (("--activation=relux", "unknown activation 'relux'"),
                             ("--kernel_initializer=glorot_unifrom", "unknown initializer 'glorot_unifrom'"),
                             ("--kernel_initializer=random_normal(stdev=1)", "random_normal takes mean, stddev, "
                                                                             "not stdev"),
                             ("--activation=leaky_relu(alpha=0.1)", "leaky_relu takes negative_slope, not alpha")):
            with self.subTest(flag):
                code, tensorflow_imported, keras_module, stderr = flag_check("train", flag)
                self.assertEqual(code, 1)
                self.assertLen(stderr.splitlines(), 1)
                self.assertStartsWith(stderr, f"train: error: flag {flag}: ")
                self.assertIn(f"({reason}", stderr)
                self.assertEqual((tensorflow_imported, keras_module), (False, "NoneType"))

    def test_help_lists_the_binarys_own_flags_by_group_with_defaults(self):
        for binary, groups in (("train", ["data:", "model:", "training (optimizer, schedule, seeds, precision):",
                                          "instruments:", "run directory:"]),
                               ("prune", ["data:", "model:", "training (optimizer, schedule, seeds, precision):",
                                          "instruments:", "pruning:", "run directory:"]),
                               ("sweep", ["data:", "model:", "training (optimizer, schedule, seeds, precision):",
                                          "instruments:", "pruning:", "run directory:", "sweep:"]),
                               ("replicate_features", ["replicate_features:"])):
            with self.subTest(binary):
                for argument in ("--help", "--helpshort"):
                    done = subprocess.run([sys.executable, "-m", f"keras_initstudy.{binary}", argument], env=ENV,
                                          cwd=ROOT, capture_output=True, text=True, timeout=120)
                    self.assertEqual(done.returncode, 0)
                    self.assertEqual([line for line in done.stdout.splitlines() if line.endswith(":")
                                      and not line.startswith(" ") and line.split(":")[0] in
                                      {g.rstrip(":") for g in groups}], groups)
                    self.assertNotIn("--tfds_debug_list_dir", done.stdout)  # not the binary's
                    self.assertNotIn("--logtostderr", done.stdout)  # absl's: --helpfull
        train_help = subprocess.run([sys.executable, "-m", "keras_initstudy.train", "--help"], env=ENV, cwd=ROOT,
                                    capture_output=True, text=True, timeout=120).stdout
        self.assertRegex(train_help, r"data:\n  --data_dir: ")
        self.assertRegex(train_help, r"  --learning_rate: Learning rate \(paper 000 §3: 0.1\). \(default: '0.1'\)")
        self.assertIn("--[no]deterministic", train_help.split("training (")[1].split("instruments:")[0])


class QuietStartTest(tf.test.TestCase):

    def test_a_missing_data_dir_is_one_line_with_no_start_up_noise(self):
        """Issues 24.3 and 24.6: TensorFlow starts without its CUDA lines, and a --data_dir without
        the files is refused at once (no download tried), naming them, creating nothing."""
        missing = os.path.join(self.get_temp_dir(), "misspelt")
        done = subprocess.run([sys.executable, "-m", "keras_initstudy.train", "--dataset=fashion_mnist",
                               f"--data_dir={missing}", f"--output_dir={self.get_temp_dir()}"],
                              env=dict(ENV, TF_CPP_MIN_LOG_LEVEL="0"), cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stderr.splitlines(), [
            f"train: error: fashion_mnist: {missing} (no such folder) lacks train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (.gz or not), and holds no "
            f"TensorFlow Datasets copy ({missing}/fashion_mnist); put the files there, or add --download to "
            "fetch fashion_mnist"])
        self.assertFalse(os.path.exists(missing))

    def test_what_is_held_back(self):
        lines = ["WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
                 "I0000 00:00:17.5 1 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not "
                 "be used.",
                 "E0000 00:00:17.6 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error",
                 "W0000 something else the user should see"]
        self.assertEqual(quiet.passed_on(lines, gpus_found=False, gpu_present=False), lines[3:])
        self.assertEqual(quiet.passed_on(lines, gpus_found=True, gpu_present=True), lines[3:])
        # a GPU that TensorFlow cannot use: the CUDA lines say why
        self.assertEqual(quiet.passed_on(lines, gpus_found=False, gpu_present=True), lines)

    def test_retracing_warnings_are_dropped(self):
        quiet.start_tensorflow()
        with self.assertLogs(tf.get_logger(), "WARNING") as logged:
            tf.get_logger().warning("5 out of the last 5 calls to <function f> triggered tf.function retracing.")
            tf.get_logger().warning("kept")
        self.assertEqual([r.getMessage() for r in logged.records], ["kept"])


class InterruptTest(tf.test.TestCase):

    def test_an_error_raised_while_handling_ctrl_c_still_counts_as_ctrl_c(self):
        def convert():  # numpy retries a failed conversion; a Ctrl-C inside it surfaces as its TypeError
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise TypeError("__array__() got an unexpected keyword argument 'copy'")
        with self.assertRaises(SystemExit) as stop:
            with errors.one_line_errors("train"):
                convert()
        self.assertEqual(stop.exception.code, errors.INTERRUPTED)
        with self.assertRaises(TypeError):
            with errors.one_line_errors("train"):
                raise TypeError("a real bug stays a traceback")

    def test_an_error_after_a_swallowed_ctrl_c_still_counts_as_ctrl_c(self):
        """A library that catches the KeyboardInterrupt and later fails with an unrelated error
        (a tf.data generator's batch left as None): the SIGINT itself was recorded."""
        def swallowing_library():
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1.0)  # the handler runs here
            except KeyboardInterrupt:
                pass
            raise TypeError("Failed to convert elements of (None,) to Tensor.")

        previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
        try:
            with self.assertRaises(SystemExit) as stop:
                with errors.one_line_errors("train"):
                    swallowing_library()
            self.assertEqual(stop.exception.code, errors.INTERRUPTED)
            self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)  # restored
            with self.assertRaises(TypeError):  # no Ctrl-C in this run: a real bug stays a traceback
                with errors.one_line_errors("train"):
                    raise TypeError("Failed to convert elements of (None,) to Tensor.")
        finally:
            signal.signal(signal.SIGINT, previous)

    def test_an_os_error_raised_while_handling_ctrl_c_counts_as_ctrl_c_too(self):
        """A Ctrl-C that lands in an atomic write's cleanup surfaces as its OSError (the temporary is
        gone): still status 130, not 'error'. A plain OSError stays one error line (status 1)."""
        def cleanup():
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise FileNotFoundError(2, "No such file or directory", "/runs/x/history.csv.tmp")

        def unwritable():
            raise PermissionError(13, "Permission denied", "/runs/x")

        with self.assertRaises(SystemExit) as stop:
            with errors.one_line_errors("train"):
                cleanup()
        self.assertEqual(stop.exception.code, errors.INTERRUPTED)
        with self.assertRaises(SystemExit) as stop:
            with errors.one_line_errors("train"):
                unwritable()
        self.assertStartsWith(stop.exception.code, "train: error: ")

    def test_ctrl_c_exits_130_with_the_message_on_its_own_line(self):
        out = self.get_temp_dir()
        proc = subprocess.Popen([sys.executable, "-u", "-m", "keras_initstudy.train", "--width=64", "--epochs=5000",
                                 "--snapshots=none", "--noweight_images", f"--output_dir={out}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT,
                                # as from a shell: Ctrl-C not ignored (a test runner that started Ray may ignore it)
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        for line in proc.stdout:  # wait until training has started
            if line.startswith("training into"):
                break
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=120)
        finally:
            proc.kill()
        self.assertEqual(proc.returncode, errors.INTERRUPTED, stderr[-3000:])
        self.assertIn("\n\ntrain: interrupted; rerun the same command to resume", "\n" + stderr)
        self.assertNotIn("Traceback", stderr)
        del stdout


if __name__ == "__main__":
    np.random.seed(0)
    tf.test.main()
