"""Grids of run configurations: axes over any config field.

    axes = parse_axes(["width=10,25,50,100", "seed=0..9", "dataset=mnist,fashion_mnist"])
    configs = expand(base_config, axes)      # the cross product, first axis outermost

An axis is `name=v1,v2,...` or, for integer fields, `name=a..b` (inclusive). Values
are parsed by the field's type and every config is validated when it is made, so a
bad grid fails before anything trains. Axes over model-specific fields must apply
to the model (`--model=constnet` with a width axis is an error).
"""
import dataclasses
import itertools
from typing import Dict, List, Sequence, Tuple

from keras_initstudy import config as config_lib
from keras_initstudy import models, settings

Axis = Tuple[str, Tuple[str, ...]]


def split_top_level(text: str) -> List[str]:
    """'a,b(x=1,y=2),c' -> ['a', 'b(x=1,y=2)', 'c']: commas inside parentheses do not split,
    so initializers with arguments can be axis values."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_axis(text: str, config_cls=config_lib.ExperimentConfig) -> Axis:
    name, sep, values = text.partition("=")
    name = name.strip().lstrip("-")
    if not sep or not name or not values.strip():
        raise settings.ConfigError(f"axis {text!r}: expected name=v1,v2,... or name=a..b")
    if name not in config_cls.field_names():
        raise settings.ConfigError(f"axis {text!r}: {name!r} is not a setting")
    if ".." in values:
        low, _, high = values.partition("..")
        if not (low.strip().isdigit() and high.strip().isdigit()) or int(low) > int(high):
            raise settings.ConfigError(f"axis {text!r}: a range is a..b with integers a <= b")
        return name, tuple(str(v) for v in range(int(low), int(high) + 1))
    parts = tuple(v.strip() for v in split_top_level(values) if v.strip())
    if len(set(parts)) != len(parts):
        raise settings.ConfigError(f"axis {text!r}: repeated values")
    return name, parts


def parse_axes(texts: Sequence[str], config_cls=config_lib.ExperimentConfig) -> List[Axis]:
    axes = [parse_axis(t, config_cls) for t in texts]
    names = [n for n, _ in axes]
    if len(set(names)) != len(names):
        raise settings.ConfigError(f"an axis is given twice: {', '.join(names)}")
    return axes


def _typed(name: str, text: str, model_name: str, config_cls):
    if name == "model":
        return text
    for cls in (*config_cls.FIXED.values(), models.config_class(model_name)):
        for field in dataclasses.fields(cls):
            if field.name == name:
                return settings.parse_text(cls, field, text)
    raise settings.ConfigError(f"{name} does not apply to model {model_name}")


def expand(base: config_lib.ExperimentConfig, axes: Sequence[Axis]) -> List[config_lib.ExperimentConfig]:
    """One config per combination of axis values (the base alone when there are no axes)."""
    configs = []
    for values in itertools.product(*(v for _, v in axes)):
        combo: Dict[str, str] = dict(zip((n for n, _ in axes), values))
        model_name = combo.get("model", base.model_name)
        configs.append(base.replace(**{n: _typed(n, v, model_name, type(base)) for n, v in combo.items()}))
    names = [c.run_name() for c in configs]
    if len(set(names)) != len(names):
        raise settings.ConfigError("two grid points are the same run (an axis over a setting that does not "
                                   "change the run?)")
    return configs
