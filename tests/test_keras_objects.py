"""A run's model.keras loads in a fresh process after a plain `import keras_initstudy`,
whether Keras is imported before or after it; importing the package imports no Keras."""
import os
import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

import keras_initstudy
from keras_initstudy import config, keras_objects, models, specs, training
from keras_initstudy.datasets import base

INFO = base.DatasetInfo("t", 10, (32, 32, 3), tuple("abcdefghij"))
PACKAGE_DIR = os.path.dirname(keras_initstudy.__file__)
LOAD = """
import sys
{first}
model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], keras.ops.convert_to_numpy(model(x)))
print(type(model.optimizer).__name__, sorted({{type(l).__name__ for l in model.layers}} & {{"ScalarBias"}}))
"""


class LoadingTest(tf.test.TestCase):

    def test_every_module_that_registers_objects_is_listed(self):
        found = set()
        for folder, _, files in os.walk(PACKAGE_DIR):
            for name in files:
                path = os.path.join(folder, name)
                if name.endswith(".py") and "register_keras_serializable" in open(path, encoding="utf-8").read():
                    module = os.path.relpath(path[:-3], os.path.dirname(PACKAGE_DIR)).replace(os.sep, ".")
                    found.add(module)
        found.discard("keras_initstudy.keras_objects")
        self.assertEqual(found, set(keras_objects.MODULES))

    def test_importing_the_package_imports_no_keras(self):
        out = subprocess.run([sys.executable, "-c", "import sys, keras_initstudy; print('keras' in sys.modules, "
                              "'tensorflow' in sys.modules)"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.strip(), "False False")

    def test_tensorflow_imported_after_the_settings_still_finds_a_whole_keras(self):
        """A Ray worker imports the settings (Keras bound lazily), then TensorFlow, then builds:
        TensorFlow's import looks at `keras` half-way, which must not leave a broken module."""
        code = ("import sys, keras_initstudy.config\nassert 'keras' not in sys.modules\nimport tensorflow\n"
                "from keras_initstudy.models import registry\nprint(registry.keras.Model.__name__)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.stdout.strip(), "Model", msg=out.stderr[-2000:])

    def test_each_object_module_can_be_the_first_to_import_keras(self):
        """Whichever of them imports Keras first, the hook registers the others without a circular
        import (initializers once failed: variance_initializers needs its registry)."""
        procs = {module: subprocess.Popen(
            [sys.executable, "-c", f"import {module}\nfrom keras_initstudy import initializers\n"
                                   "print(len(initializers.named().names()))"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for module in keras_objects.MODULES}
        for module, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=240)
            self.assertEqual(stdout.strip(), str(len(specs.PACKAGE_INITIALIZERS)), msg=f"{module}: {stderr[-2000:]}")

    def test_a_saved_leakynet_with_paper_sgd_loads_in_a_fresh_process(self):
        cfg = config.ExperimentConfig().replace(model="leakynet", widen_factor=1, num_blocks=3,
                                                channel_init="1_i1i", momentum=0.9, weight_decay=5e-4)
        spec = training.build(cfg, INFO)
        folder = self.get_temp_dir()
        path = os.path.join(folder, "model.keras")
        spec.model.save(path)
        x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
        np.save(os.path.join(folder, "x.npy"), x)
        expected = keras.ops.convert_to_numpy(spec.model(x))
        orders = {"package_first": "import keras_initstudy\nimport keras\nimport numpy as np",
                  "keras_first": "import keras\nimport numpy as np\nimport keras_initstudy"}
        procs = {name: subprocess.Popen(
            [sys.executable, "-c", LOAD.format(first=first), path, os.path.join(folder, "x.npy"),
             os.path.join(folder, f"{name}.npy")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name, first in orders.items()}
        for name, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=240)
            self.assertEqual(proc.returncode, 0, msg=f"{name}: {stderr[-2000:]}")
            self.assertEqual(stdout.strip().splitlines()[-1], "PaperSGD ['ScalarBias']", msg=name)
            self.assertAllEqual(np.load(os.path.join(folder, f"{name}.npy")), expected)


if __name__ == "__main__":
    tf.test.main()
