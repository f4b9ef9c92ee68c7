"""The analysis package is pure numpy/pandas: importing it must not import TensorFlow."""
import subprocess
import sys

import tensorflow as tf


class NoTensorFlowTest(tf.test.TestCase):

    def test_analysis_imports_without_tensorflow(self):
        code = ("import sys; import keras_initstudy.analysis.deviation, keras_initstudy.analysis.regimes, "
                "keras_initstudy.analysis.runs; "
                "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "[]")


if __name__ == "__main__":
    tf.test.main()
