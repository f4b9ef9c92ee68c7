"""Modules imported on first use.

Binaries parse and validate their flags before TensorFlow is imported (seconds):
model modules declare their settings at import time but need Keras only to
build, so they bind Keras and the package's Keras-based modules through a
stand-in that imports the real module on first attribute access.

The stand-in is not put in sys.modules (unlike importlib.util.LazyLoader's
modules): TensorFlow's own import looks at `keras` half-way through, and a
lazily loading `keras` there fails and stays broken.
"""
import importlib
import sys
import types


class LazyModule(types.ModuleType):
    """Stands for module `name`; the first attribute read imports it, later reads are cached."""

    def __init__(self, name: str):
        super().__init__(name)

    def __getattr__(self, attr: str):
        value = getattr(importlib.import_module(self.__name__), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self):
        state = "imported" if self.__name__ in sys.modules else "not imported yet"
        return f"<lazy module {self.__name__!r} ({state})>"


def module(name: str) -> types.ModuleType:
    """`name` itself when it is imported already, else a LazyModule for it."""
    return sys.modules.get(name) or LazyModule(name)
