"""One Keras model for K members of an MLP, and the copies between it and the members.

    ensemble = stack([member.model for member in members])   # outputs member_0 .. member_{K-1}
    pairs = [variable_pairs(ensemble, m, k) for k, m in enumerate(member_models)]
    load_members(pairs)        # ensemble <- members (initial weights, resumed state)
    copy_to_member(pairs[k])   # member k <- ensemble (before its instruments read it)

The members are the models a single run builds with each member's seeds, so member
k starts exactly where a single run with its seeds starts. `stack` reads their layers
in order; a chain of Flatten, Dense (pruning masks included), elementwise activations and
Dropout is stackable, anything else raises NotStackable (the caller then runs the members
one by one).
"""
from typing import List, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_initstudy.ensemble import layers as stacked
from keras_initstudy.pruning import masks

OUTPUT_PREFIX = "member_"
ELEMENTWISE = (keras.layers.Activation, keras.layers.LeakyReLU, keras.layers.ReLU, keras.layers.ELU,
               keras.layers.Softmax)


class NotStackable(ValueError):
    """The model has a layer the ensemble cannot run side by side."""


def output_name(index: int) -> str:
    return f"{OUTPUT_PREFIX}{index}"


def _chain(model: keras.Model) -> List[keras.layers.Layer]:
    """The model's layers after its input, checked to form one chain."""
    chain = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotStackable(f"{model.name} has several inputs or outputs")
    previous = model.inputs[0]
    for layer in chain:
        if len(layer._inbound_nodes) != 1 or layer.input is not previous:  # noqa: SLF001 (Keras's graph)
            raise NotStackable(f"{model.name} is not a chain of layers at {layer.name}")
        previous = layer.output
    return chain


def _stacked_layer(layer: keras.layers.Layer, twins: Sequence[keras.layers.Layer], k: int):
    """The ensemble's layer for `layer` (twins: the same layer in every member); None for Flatten."""
    if any(t.__class__ is not layer.__class__ for t in twins):
        raise NotStackable(f"members differ at {layer.name}")
    if isinstance(layer, keras.layers.Flatten):
        return None  # MemberMajor flattens
    if isinstance(layer, keras.layers.Dense):
        if layer.kernel_regularizer is not None or layer.bias_regularizer is not None:
            raise NotStackable(f"{layer.name}: a regularised weight")
        return stacked.StackedDense(k, layer.units, activation=layer.activation, use_bias=layer.use_bias,
                                    name=layer.name, dtype=layer.dtype_policy)
    if isinstance(layer, keras.layers.Dropout):
        if layer.noise_shape is not None:
            raise NotStackable(f"{layer.name}: dropout with a noise shape")
        return stacked.StackedDropout(k, layer.rate, seeds=[t.seed for t in twins], name=layer.name,
                                      dtype=layer.dtype_policy)
    if isinstance(layer, ELEMENTWISE):
        return layer.__class__.from_config(layer.get_config())
    raise NotStackable(f"{layer.name} ({type(layer).__name__}) cannot be stacked")


def stack(members: Sequence[keras.Model]) -> keras.Model:
    """The ensemble of identically shaped models `members`: input (batch, K, *input_shape),
    outputs {member_k: member k's predictions}. Its variables start at zero: load_members."""
    k = len(members)
    if k < 1:
        raise ValueError("an ensemble needs at least one member")
    chains = [_chain(m) for m in members]
    if len({len(c) for c in chains}) != 1:
        raise NotStackable("members have different numbers of layers")
    inputs = keras.Input(shape=(k, *members[0].inputs[0].shape[1:]), name="images")
    x = stacked.MemberMajor(k, name="member_major")(inputs)
    for twins in zip(*chains):
        twin = _stacked_layer(twins[0], twins, k)
        if twin is not None:
            x = twin(x)
            if isinstance(twin, stacked.StackedDense):
                _stack_masks(twin, twins)
    outputs = {output_name(i): stacked.TakeMember(i, name=output_name(i), dtype="float32")(x) for i in range(k)}
    return keras.Model(inputs, outputs, name=f"{members[0].name}_x{k}")


def _stack_masks(twin: stacked.StackedDense, layers: Sequence[keras.layers.Dense]) -> None:
    """Each member's pruning mask (pruning/masks.py) becomes its slice of one stacked mask,
    applied after every update as the members' are, so each member keeps its own."""
    for attr in ("kernel", "bias"):
        constraints = [getattr(getattr(layer, attr), "constraint", None) for layer in layers]
        if all(c is None for c in constraints):
            continue
        if not all(isinstance(c, masks.MaskConstraint) for c in constraints):
            raise NotStackable(f"{layers[0].name}/{attr}: a constraint other than a pruning mask")
        mask = tf.Variable(np.stack([c.mask.numpy() for c in constraints]), trainable=False,
                           name=f"{layers[0].name}_{attr}_masks")
        getattr(twin, attr).constraint = masks.MaskConstraint(mask)


def variable_pairs(ensemble: keras.Model, member: keras.Model, k: int) -> List[Tuple[object, object, int]]:
    """(ensemble variable, member variable, index) for every variable a single run's
    state holds: weights, dropout generators, and optimizer variables (the optimizers must
    be built). index is k where the member's variable is slice k of the ensemble's, None
    where it is the whole (the step count, a learning-rate variable, a generator)."""
    found = []
    twins = [layer for layer in ensemble.layers if isinstance(layer, (stacked.StackedDense, stacked.StackedDropout))]
    mine = [layer for layer in _chain(member) if isinstance(layer, (keras.layers.Dense, keras.layers.Dropout))]
    for twin, layer in zip(twins, mine, strict=True):
        if isinstance(layer, keras.layers.Dense):
            found.append((twin.kernel, layer.kernel, k))
            if layer.use_bias:
                found.append((twin.bias, layer.bias, k))
        else:
            found.append((twin.generators[k].state, layer.seed_generator.state, None))
    ours, theirs = ensemble.optimizer.variables, member.optimizer.variables
    if len(ours) != len(theirs):
        raise ValueError(f"optimizers hold {len(ours)} and {len(theirs)} variables")
    for a, b in zip(ours, theirs):
        if tuple(a.shape) == tuple(b.shape):
            found.append((a, b, None))
        elif tuple(a.shape) == (len(ensemble.outputs), *b.shape):
            found.append((a, b, k))
        else:
            raise ValueError(f"optimizer variables {a.path} {a.shape} and {b.path} {b.shape} do not correspond")
    return found


def load_members(pairs: Sequence[Sequence[Tuple[object, object, int]]]) -> None:
    """Ensemble <- every member: slices stacked in member order; a shared variable (the
    step count) from member 0, all members having to agree on it."""
    for column in zip(*pairs):
        target, first, index = column[0]
        if index is not None:
            target.assign(np.stack([member_variable.numpy() for _, member_variable, _ in column]))
            continue
        shared = all(p[0] is target for p in column)
        if shared and not all(np.array_equal(p[1].numpy(), first.numpy()) for p in column):
            raise ValueError(f"members disagree on {first.path}")
        for ensemble_variable, member_variable, _ in column:
            ensemble_variable.assign(member_variable.numpy())


def copy_to_member(pairs: Sequence[Tuple[object, object, int]]) -> None:
    """Member <- its part of the ensemble."""
    for ensemble_variable, member_variable, index in pairs:
        member_variable.assign(ensemble_variable if index is None else ensemble_variable[index])
