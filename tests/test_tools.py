"""The benchmark tools run (tiny settings) and print their figures: a renamed flag or API
breaks them here, not in a user's hands. (Timings themselves are not asserted.)"""
import os
import subprocess
import sys

import tensorflow as tf
from absl.testing import parameterized

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


class BenchmarkToolsTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.parameters(
        (["tools/benchmarks/benchmark_epoch.py", "--datasets=fashion_mnist_mini", "--epochs=2", "--width=16", "--repeats=1",
          "--methods=package,bare_tf,ensemble", "--ensemble_sizes=2"], "ensemble_2 "),
        (["tools/benchmarks/benchmark_callbacks.py", "--epochs=2", "--width=16"], "+ RMSD every 10 steps"),
        (["tools/benchmarks/benchmark_masks.py", "--epochs=2", "--repeats=1", "--batch_size=600"], "masked overhead:"),
        (["tools/symmetry_probe.py", "--trials=1"], "  32     64  1       2    14 "))
    def test_runs_and_prints(self, args, expected):
        result = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=ENV, cwd=ROOT,
                                timeout=600)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn(expected, result.stdout)


if __name__ == "__main__":
    tf.test.main()
