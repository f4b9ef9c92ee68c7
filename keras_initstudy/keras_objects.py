"""Registers the package's Keras custom objects whenever Keras gets imported.

Saved models (model.keras) name objects such as 'keras_initstudy>ChannelAveraging';
Keras finds them only once the modules defining them have run. Importing those
modules means importing Keras and TensorFlow (seconds), which the package's
import must not do, so a one-shot import hook runs them right after `keras`
finishes importing, whoever imports it.
"""
import importlib
import importlib.abc
import importlib.util
import sys

# Every module with @keras.saving.register_keras_serializable (tested: none is missed).
MODULES = ("keras_initstudy.initializers", "keras_initstudy.variance_initializers",
           "keras_initstudy.optimizers", "keras_initstudy.layers", "keras_initstudy.ensemble.layers",
           "keras_initstudy.symmetric_arithmetic")


def register() -> None:
    for name in MODULES:
        importlib.import_module(name)


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds `keras` through the other finders, then runs register() after its module executes."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from finding us
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            register()
        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_is_imported() -> None:
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())
