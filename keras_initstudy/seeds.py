"""Seeds by purpose, and independent draws derived from them.

A run has an init seed (its initial weights) and a data seed (order of examples,
augmentation, dropout); `--seed` sets both. Keras 3 initializers built with an
integer seed return the same values on every call, and an unseeded one fixes its
seed when built, from global state, so two layers drawing from one initializer
would be equal and draws would depend on what was built before. Every random draw
therefore gets its own seed derived here from (seed, purpose): a layer's initial
weights depend only on the init seed and the layer's name.
"""
import hashlib


def derive(seed: int, *purpose) -> int:
    """A 31-bit seed for `purpose` (e.g. derive(init_seed, 'hidden_1/kernel')); distinct
    purposes give independent seeds, the same purpose the same one."""
    text = "/".join([str(int(seed)), *map(str, purpose)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little") & 0x7FFFFFFF
