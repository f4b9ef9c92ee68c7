"""Models by name. Each module in this package registers its builder and config
class (registry.register); importing the package imports every module, so adding
a model touches only its own module.

    spec = models.build(cfg.model, dataset_info, Seeds(init=0, data=0))
    spec.model, spec.kernels, spec.prunable, spec.output
"""
import importlib
import pkgutil

from keras_initstudy.models.registry import (ModelConfig, ModelSpec, Seeds, build, config_class,
                                             config_classes, names, register)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ModelConfig", "ModelSpec", "Seeds", "build", "config_class", "config_classes", "names", "register"]
