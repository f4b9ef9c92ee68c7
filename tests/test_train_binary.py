"""`python -m keras_initstudy.train` as a user runs it: end to end, reruns, one-line errors."""
import csv
import os
import subprocess
import sys

import tensorflow as tf
from absl.testing import parameterized


def run_train(*args, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, "-m", "keras_initstudy.train", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


class TrainBinaryTest(tf.test.TestCase, parameterized.TestCase):

    def test_two_epochs_on_embedded_data_then_rerun_does_nothing(self):
        out = self.get_temp_dir()
        result = run_train("--epochs=2", "--width=32", f"--output_dir={out}")
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        (name,) = os.listdir(out)
        self.assertStartsWith(name, "mlp_fashion_mnist_mini-")
        run_dir = os.path.join(out, name)
        self.assertContainsSubset({"DONE", "flags.txt", "config.json", "history.csv", "model.keras", "tb"},
                                  os.listdir(run_dir))
        with open(os.path.join(run_dir, "history.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertLen(rows, 2)
        self.assertLess(float(rows[1]["loss"]), float(rows[0]["loss"]))
        self.assertIn("Epoch 2/2", result.stdout)  # Keras's progress output

        again = run_train(f"--flagfile={os.path.join(run_dir, 'flags.txt')}")
        self.assertEqual(again.returncode, 0, again.stderr[-2000:])
        self.assertIn(f"run already complete: {run_dir}", again.stdout)

    @parameterized.parameters(
        ("--width=0", "width"),
        ("--optimizer=lbfgs", "optimizer"),
        ("--dataset=imagenet", "dataset"),
        ("--kernel_initializer=nope", "kernel_initializer"),
        ("--learning_rate=-1", "learning_rate"),
    )
    def test_bad_flag_gets_a_short_error_without_traceback(self, flag, name):
        result = run_train(flag, f"--output_dir={self.get_temp_dir()}")
        self.assertNotEqual(result.returncode, 0)
        self.assertNotIn("Traceback", result.stderr)
        self.assertLen(result.stderr.splitlines(), 1, result.stderr)  # one line, no absl 'FATAL' pair
        self.assertStartsWith(result.stderr, f"train: error: flag --{name}=")

    def test_missing_hasyv2_archive_is_one_line_saying_where_to_put_it(self):
        tmp = self.get_temp_dir()
        result = run_train("--dataset=hasyv2", f"--data_dir={tmp}", "--nodownload", f"--output_dir={tmp}")
        self.assertEqual(result.returncode, 1)
        self.assertNotIn("Traceback", result.stderr)
        last = result.stderr.strip().splitlines()[-1]
        self.assertStartsWith(last, "train: error: HASYv2 archive not found")
        self.assertIn("HASYv2.tar.bz2", last)
        self.assertIn(os.path.join(tmp, "downloads", "manual"), last)

    def test_corrupt_idx_file_is_named(self):
        tmp = self.get_temp_dir()
        for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte"):
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(b"\x00\x00\x08\x01\x00\x00\x00\x05\x01")  # 5 labels announced, 1 present
        result = run_train("--dataset=mnist", f"--data_dir={tmp}", f"--output_dir={tmp}")
        self.assertEqual(result.returncode, 1)
        self.assertNotIn("Traceback", result.stderr)
        self.assertRegex(result.stderr.strip().splitlines()[-1], "train: error: .*-ubyte: bad magic|truncated")

    @parameterized.parameters(
        (["--mask_layer=5"], "train: error: mask_layer=5: must be at most depth=2"),
        (["--model=constnet", "--width=3"], "train: error: --width does not apply to --model=constnet"),
        (["--deterministic", "--nondeterminism=simulated"], "train: error: --deterministic contradicts"),
        (["--image_layer=9", "--epochs=1"], "train: error: --image_layer=9: mlp has kernels 0..2"),
    )
    def test_bad_combination_is_one_line_and_leaves_no_run_directory(self, args, message):
        out = os.path.join(self.get_temp_dir(), "combination")
        result = run_train(*args, f"--output_dir={out}")
        self.assertEqual(result.returncode, 1)
        self.assertNotIn("Traceback", result.stderr)
        self.assertStartsWith(result.stderr.strip().splitlines()[-1], message)
        self.assertFalse(os.path.exists(out) and os.listdir(out), "a run directory was left behind")

    def test_unwritable_output_dir_is_one_line(self):
        blocker = os.path.join(self.get_temp_dir(), "a-file")
        with open(blocker, "w") as f:
            f.write("not a folder")
        result = run_train("--epochs=1", "--width=4", f"--output_dir={blocker}/runs")
        self.assertEqual(result.returncode, 1)
        self.assertNotIn("Traceback", result.stderr)
        self.assertRegex(result.stderr.strip().splitlines()[-1], f"train: error: cannot write {blocker}.*: Not a directory")


if __name__ == "__main__":
    tf.test.main()
