"""A model's complete training state in files: weights, optimizer state, and the
state of its random-number generators (dropout's seed generators, which Keras's
save_weights leaves out). Checkpoints (resume) and save points (rewind) use it.

    <name>.weights.h5    model and optimizer variables (Keras save_weights)
    <name>.json          {"step": N, "seed_states": [[seed, counter], ...]}, written after the .h5
"""
import json
import os
from typing import List, Optional

import keras
import numpy as np

from keras_initstudy import rundir


def seed_generators(model: keras.Model) -> List:
    """Every SeedGenerator of the model's layers, in layer order."""
    found = []
    for layer in model._flatten_layers(include_self=False):  # noqa: SLF001 (Keras's own layer walk)
        found.extend(getattr(layer, "_seed_generators", []))
    return found


def save(model: keras.Model, directory: str, name: str, step: int) -> None:
    """Writes the state atomically: the index names a state only once its weights are complete.
    An optimizer not yet built (step 0) is built first, so every state holds its variables."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    with rundir.atomic_path(rundir.at(directory).state_weights(name)) as tmp:
        model.save_weights(tmp)
    states = [np.asarray(g.state.numpy()).tolist() for g in seed_generators(model)]
    rundir.write_json(rundir.at(directory).state_index(name), {"step": int(step), "seed_states": states})


def exists(directory: str, name: str) -> bool:
    return os.path.exists(rundir.at(directory).state_index(name))


def load(model: keras.Model, directory: str, name: str) -> int:
    """Restores a compiled model's weights, optimizer and seed-generator states; returns the step."""
    with open(rundir.at(directory).state_index(name), encoding="utf-8") as f:
        index = json.load(f)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(rundir.at(directory).state_weights(name))
    generators = seed_generators(model)
    if len(generators) != len(index["seed_states"]):
        raise ValueError(f"{directory}/{name}: {len(index['seed_states'])} seed states for "
                         f"{len(generators)} seed generators")
    for generator, state in zip(generators, index["seed_states"]):
        generator.state.assign(np.asarray(state, dtype=generator.state.dtype))
    step = int(index["step"])
    if int(model.optimizer.iterations.numpy()) != step:
        raise ValueError(f"{directory}/{name}: optimizer at step {int(model.optimizer.iterations.numpy())}, "
                         f"index says {step}")
    return step


def read_step(directory: str, name: str) -> Optional[int]:
    if not exists(directory, name):
        return None
    with open(rundir.at(directory).state_index(name), encoding="utf-8") as f:
        return int(json.load(f)["step"])
