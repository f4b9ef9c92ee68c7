"""keras_initstudy: replications of five studies of how initial weights shape training.

The package is written for Keras 3 on the TensorFlow backend; importing it selects
that backend unless the user already chose one through KERAS_BACKEND.

Importing the package does not import Keras (binaries parse their flags first),
yet `keras.saving.load_model` reads a run's model.keras after a plain
`import keras_initstudy`: the package's custom objects (initializers, layers,
optimizers) are registered as soon as Keras is imported, or at once if it
already is (keras_objects.py).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

from keras_initstudy import keras_objects  # noqa: E402

keras_objects.register_when_keras_is_imported()
