"""keras_initstudy: replications of five studies of how initial weights shape training.

The package is written for Keras 3 on the TensorFlow backend; importing it selects
that backend unless the user already chose one through KERAS_BACKEND.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"
