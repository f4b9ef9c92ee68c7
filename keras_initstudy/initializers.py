"""Keras initializers the papers need.

MaskedInitializer (paper 000 §4, footnote 5): weights drawn by a base initializer,
then those outside a mark (a letter, or any 0/1 matrix) set to exactly zero.
"""
from typing import Optional, Union

import keras
import numpy as np

from keras_initstudy import masks

PACKAGE = "keras_initstudy"


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedInitializer(keras.initializers.Initializer):
    """`base(shape) * mask`: zero outside the mark.

    `mask` is either glyph text (rasterised to whatever 2-D shape is requested,
    see masks.glyph_mask) or a 0/1 array of exactly the requested shape.
    """

    def __init__(self, base: Union[str, dict, keras.initializers.Initializer] = "glorot_uniform",
                 mask: Union[str, np.ndarray, list] = "a"):
        self.base = keras.initializers.get(base)
        self.mask = mask if isinstance(mask, str) else np.asarray(mask, dtype=np.float32)

    def mask_for(self, shape) -> np.ndarray:
        if len(shape) != 2:
            raise ValueError(f"MaskedInitializer needs a 2-D weight matrix, got shape {tuple(shape)}")
        if isinstance(self.mask, str):
            return masks.glyph_mask(tuple(shape), self.mask)
        if tuple(self.mask.shape) != tuple(shape):
            raise ValueError(f"mask shape {self.mask.shape} does not match weight shape {tuple(shape)}")
        return self.mask

    def __call__(self, shape, dtype=None):
        weights = self.base(shape, dtype=dtype)
        return weights * keras.ops.cast(self.mask_for(shape), weights.dtype)

    def get_config(self):
        mask = self.mask if isinstance(self.mask, str) else self.mask.tolist()
        return {"base": keras.initializers.serialize(self.base), "mask": mask}

    @classmethod
    def from_config(cls, config):
        return cls(base=keras.initializers.deserialize(config["base"]), mask=config["mask"])


def masked_or_plain(base: str, mask: Optional[str]) -> Union[str, MaskedInitializer]:
    """The initializer for a layer that may carry a letter mark ('none' or None: no mark)."""
    if mask in (None, "", "none"):
        return base
    return MaskedInitializer(base, mask)
