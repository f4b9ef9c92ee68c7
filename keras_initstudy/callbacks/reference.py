"""The reference weights that instruments compare with, kept on the model's device.

For a fresh run the reference is w(0), copied right after the model is built (before
a resumed run restores its checkpoint). After a rewind to step k (papers 003, 004) it
is w(k): runners pass whichever they mean, explicitly. Measurements against it (RMSD,
deviation histograms) read this copy instead of pulling weights to the host.
"""
from typing import Dict, List, Mapping, Optional

import numpy as np
import tensorflow as tf


def layer_of(name: str) -> str:
    """'hidden_1' for 'hidden_1/kernel'."""
    return name.rsplit("/", 1)[0]


class ReferenceWeights:
    """`variables` ({'hidden_1/kernel': variable}, e.g. ModelSpec.weight_variables()) and a
    copy of their values: the current ones, or `values` when given (w(k) from a save point)."""

    def __init__(self, variables: Mapping[str, object], values: Optional[Mapping[str, np.ndarray]] = None):
        self.names: List[str] = list(variables)
        self.variables: List = list(variables.values())
        if values is not None and set(values) != set(self.names):
            raise ValueError(f"reference values for {sorted(values)} but variables {self.names}")
        self.reference: List[tf.Variable] = [
            tf.Variable(tf.identity(v.value) if values is None else tf.constant(values[n], dtype=v.dtype),
                        trainable=False)
            for n, v in zip(self.names, self.variables)]

    @classmethod
    def of(cls, spec, include_biases: bool = False) -> "ReferenceWeights":
        """The spec's kernels (paper 000's edge weights), with biases if asked, at their current values."""
        return cls(spec.weight_variables(include_biases))

    def kernel_indices(self) -> List[int]:
        return [i for i, n in enumerate(self.names) if n.endswith("/kernel")]

    def by_layer(self) -> Dict[str, List[int]]:
        """Layer name -> indices into self.variables, in model order."""
        groups: Dict[str, List[int]] = {}
        for i, name in enumerate(self.names):
            groups.setdefault(layer_of(name), []).append(i)
        return groups
