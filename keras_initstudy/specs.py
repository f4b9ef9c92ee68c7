"""Initializer and activation specs ('random_normal(stddev=0.5)'), checked without Keras.

Flags are validated before TensorFlow is imported (a typo is rejected in a
fraction of a second), so the common case, a plain name, is checked against
the names below; a spec with arguments, or a name not listed, is checked by
building it, which imports Keras. The lists are tested against Keras's own and
against the package's registered initializers, so they cannot drift.
"""
import ast
from typing import Tuple

KERAS_INITIALIZERS = frozenset({
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity", "lecun_normal",
    "lecun_uniform", "normal", "one", "ones", "orthogonal", "random_normal", "random_uniform", "truncated_normal",
    "uniform", "variance_scaling", "zero", "zeros"})
PACKAGE_INITIALIZERS = frozenset({  # initializers.NAMED once every registering module is imported
    "kaiming_normal", "kaiming_uniform", "random_bias", "torch_default", "xavier_normal", "xavier_normal_double",
    "xavier_normal_half", "xavier_uniform", "xavier_uniform_double", "xavier_uniform_half"})
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


def check_initializer(text: str) -> None:
    """Raises ValueError unless `text` builds an initializer."""
    name, kwargs = parse_spec(text)
    if kwargs or name not in KERAS_INITIALIZERS | PACKAGE_INITIALIZERS:
        from keras_initstudy import initializers  # imports Keras
        initializers.check_spec(text)


def check_activation(text: str) -> None:
    """Raises ValueError unless `text` is a Keras activation or leaky_relu(negative_slope=...)."""
    name, kwargs = parse_spec(text)
    if kwargs or name not in KERAS_ACTIVATIONS:
        from keras_initstudy.models import mlp  # imports Keras when building the layer
        mlp.activation_layer(text, "check")
