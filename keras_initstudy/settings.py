"""Config fields that carry their default, help text and validation.

Every run setting is a dataclass field made by `setting(...)`. Its metadata holds
the help text, a check (a `Check`: a predicate with a message), whether it is part
of a run's identity, and enum choices. A config validates its fields when it is
built (`validate_fields`, called from `__post_init__`), flags are generated from
the same fields (flagdefs.py), and the absl validators call the same checks: one
statement of each rule.
"""
import dataclasses
import typing
from typing import Any, Callable, Iterable, Optional, Sequence


class ConfigError(ValueError):
    """A setting, or a combination of settings, that no run can have."""


@dataclasses.dataclass(frozen=True)
class Check:
    """A predicate on one value, and what it requires in words ('must be > 0')."""

    test: Callable[[Any], bool]
    message: str

    def __call__(self, value) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False


def at_least(bound) -> Check:
    return Check(lambda v: v >= bound, f"must be >= {bound}")


def positive() -> Check:
    return Check(lambda v: v > 0, "must be > 0")


def between(low, high) -> Check:
    return Check(lambda v: low <= v <= high, f"must be in [{low}, {high}]")


def parses(parser: Callable[[Any], Any], message: str) -> Check:
    """The value is accepted by `parser` (which raises ValueError otherwise)."""
    def test(value):
        parser(value)
        return True
    return Check(test, message)


def optional(check: Check) -> Check:
    return Check(lambda v: v is None or check.test(v), check.message + " (or unset)")


OMIT = object()  # an identity rule's answer for "this field does not count here"


def setting(default: Any, help: str, check: Optional[Check] = None, hashed: bool = True,
            choices: Optional[Sequence[str]] = None, measure: bool = False,
            identity: Optional[Callable[[Any], Any]] = None) -> Any:
    """A config field. `hashed=False`: where things go, not what is computed (left out of
    the run's identity). `measure=True`: an instrument, which never changes the training.
    `identity`: the field's canonical value in the identity, from its section (OMIT where
    it does not apply); by default its value."""
    return dataclasses.field(default=default, metadata={
        "help": help, "check": check, "hashed": hashed and not measure, "choices": tuple(choices or ()),
        "measure": measure, "identity": identity})


def unless_default(name: str) -> Callable[[Any], Any]:
    """An identity rule: the field counts only when set, so runs from before it existed keep their names."""
    def rule(section):
        value = getattr(section, name)
        return OMIT if value == getattr(type(section)(), name) else value
    return rule


def identity(section) -> dict:
    """{field: canonical value} of a config section's hashed fields, by each field's own rule:
    the one place a run's identity is computed from (config.ExperimentConfig.identity)."""
    found = {}
    for f in dataclasses.fields(section):
        if not f.metadata.get("hashed", True):
            continue
        rule = f.metadata.get("identity")
        value = getattr(section, f.name) if rule is None else rule(section)
        if value is not OMIT:
            found[f.name] = value
    return found


def field_type(cls, field: dataclasses.Field) -> type:
    """int, float, bool or str (Optional[X] -> X)."""
    hint = typing.get_type_hints(cls)[field.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def check_value(cls, field: dataclasses.Field, value: Any) -> None:
    """Raises ConfigError if `value` is not a valid value of `field`."""
    kind = field_type(cls, field)
    if value is None and field.default is None:
        return
    ok_type = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok_type = True
    if not ok_type:
        raise ConfigError(f"{field.name}={value!r}: must be of type {kind.__name__}")
    choices = field.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{field.name}={value!r}: must be one of {', '.join(choices)}")
    check = field.metadata.get("check")
    if check is not None and not check(value):
        raise ConfigError(f"{field.name}={value!r}: {check.message}")


def validate_fields(instance) -> None:
    """Checks every field of a settings dataclass (call from __post_init__)."""
    for field in dataclasses.fields(instance):
        check_value(type(instance), field, getattr(instance, field.name))


def parse_text(cls, field: dataclasses.Field, text: str) -> Any:
    """A field's value from its text form (sweep axes, flag-like strings)."""
    kind = field_type(cls, field)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ConfigError(f"{field.name}: {text!r} is not true or false")
        return lowered in ("true", "1")
    try:
        return kind(text.strip()) if kind is not str else text
    except ValueError:
        raise ConfigError(f"{field.name}: {text!r} is not {kind.__name__}") from None


def fields_of(classes: Iterable[type]):
    """(class, field) for every field of the given dataclasses."""
    for cls in classes:
        for field in dataclasses.fields(cls):
            yield cls, field
