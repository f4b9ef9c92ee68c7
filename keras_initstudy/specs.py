"""Initializer and activation specs ('random_normal(stddev=0.5)'), checked without Keras.

Flags are validated before TensorFlow is imported (a typo is rejected in a
fraction of a second), so names and arguments are checked against the tables
below, never by building. The tables are tested against Keras's own classes and
signatures and against the package's registered initializers, so they cannot drift.
"""
import ast
from typing import Tuple

NUMBER = "number"
_MEAN_STD = {"mean": NUMBER, "stddev": NUMBER}
_BOUNDS = {"minval": NUMBER, "maxval": NUMBER}
_GAIN = {"gain": NUMBER}
# Each initializer a flag may name, with the arguments it takes (a value kind: a number, or the
# strings allowed). The seed is not among them: it comes from --init_seed (initializers.from_spec).
KERAS_INITIALIZER_ARGUMENTS = {
    "glorot_normal": {}, "glorot_uniform": {}, "he_normal": {}, "he_uniform": {}, "lecun_normal": {},
    "lecun_uniform": {}, "one": {}, "ones": {}, "zero": {}, "zeros": {}, "identity": _GAIN, "orthogonal": _GAIN,
    "normal": _MEAN_STD, "random_normal": _MEAN_STD, "truncated_normal": _MEAN_STD,
    "uniform": _BOUNDS, "random_uniform": _BOUNDS,
    "variance_scaling": {"scale": NUMBER, "mode": ("fan_in", "fan_out", "fan_avg"),
                         "distribution": ("truncated_normal", "untruncated_normal", "normal", "uniform")}}
PACKAGE_INITIALIZER_ARGUMENTS = {  # initializers.NAMED once every registering module is imported
    **{name: _GAIN for name in ("kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_normal_double",
                                "xavier_normal_half", "xavier_uniform", "xavier_uniform_double",
                                "xavier_uniform_half")},
    "random_bias": {"distribution": ("normal", "uniform"), "scale": NUMBER},
    "torch_default": {"fan_in": NUMBER}}
INITIALIZER_ARGUMENTS = {**KERAS_INITIALIZER_ARGUMENTS, **PACKAGE_INITIALIZER_ARGUMENTS}
KERAS_INITIALIZERS = frozenset(KERAS_INITIALIZER_ARGUMENTS)
PACKAGE_INITIALIZERS = frozenset(PACKAGE_INITIALIZER_ARGUMENTS)
KERAS_ACTIVATIONS = frozenset({
    "celu", "elu", "exponential", "gelu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh", "leaky_relu",
    "linear", "log_sigmoid", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "softplus", "softsign",
    "swish", "tanh"})


def parse_spec(text: str) -> Tuple[str, dict]:
    """'random_normal(stddev=0.5)' -> ('random_normal', {'stddev': 0.5}); 'zeros' -> ('zeros', {}).
    Arguments are keyword literals (numbers, strings, booleans)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise ValueError(f"{text!r} is not an initializer (name or name(key=value, ...))") from None
    if isinstance(node, ast.Name):
        return node.id, {}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        try:
            return node.func.id, {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except ValueError:
            pass
    raise ValueError(f"{text!r} is not an initializer: give a name, or name(key=value, ...) with literal values")


def check_arguments(name: str, kwargs: dict, allowed: dict) -> None:
    """Raises ValueError for an argument `name` does not take or a value of the wrong kind."""
    for key, value in kwargs.items():
        kind = allowed.get(key)
        if kind is None:
            raise ValueError(f"{name} takes {', '.join(allowed) or 'no arguments'}, not {key}")
        if kind == NUMBER and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{name}: {key} must be a number, not {value!r}")
        if kind != NUMBER and value not in kind:
            raise ValueError(f"{name}: {key} must be one of {', '.join(kind)}, not {value!r}")


def check_initializer(text: str) -> None:
    """Raises ValueError unless `text` names an initializer with arguments it takes (no Keras needed)."""
    name, kwargs = parse_spec(text)
    if name not in INITIALIZER_ARGUMENTS:
        raise ValueError(f"unknown initializer {name!r}; valid: {', '.join(sorted(INITIALIZER_ARGUMENTS))}")
    if "seed" in kwargs:
        raise ValueError(f"{text!r}: seeds come from --init_seed, not from the initializer")
    check_arguments(name, kwargs, INITIALIZER_ARGUMENTS[name])


def check_activation(text: str) -> None:
    """Raises ValueError unless `text` is a Keras activation or leaky_relu(negative_slope=...)."""
    name, kwargs = parse_spec(text)
    if name not in KERAS_ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(sorted(KERAS_ACTIVATIONS))}")
    check_arguments(name, kwargs, {"negative_slope": NUMBER} if name == "leaky_relu" else {})
