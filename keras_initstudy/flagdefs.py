"""absl flags generated from the config fields, and the binaries' shared start.

Library modules never define flags at import; binaries call `define_train_flags()`.
Each flag's default, help and validator come from its field (settings.setting), so
they are stated once. A field that several models share with different defaults
(kernel_initializer: mlp glorot_uniform, resnet kaiming_normal) becomes a flag without a
default whose help lists each model's; an unset flag leaves the model's default.
"""
import dataclasses
import sys
import textwrap
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from absl import flags

from keras_initstudy import config as config_lib
from keras_initstudy import errors, models, quiet, settings

ALIASES = {"snapshot_epochs": "snapshots"}  # old name -> field (flagfiles written before steps)


def int_list(lower: int):
    """A validator for DEFINE_list flags: a non-empty list of integers >= lower."""
    return lambda values: bool(values) and all(v.isdigit() and int(v) >= lower for v in values)


def _fields(config_cls) -> List[Tuple[type, dataclasses.Field]]:
    fixed = list(settings.fields_of(config_cls.FIXED.values()))
    return fixed + list(settings.fields_of(models.config_classes()))


def _define(cls, field, default, help_text, fv) -> None:
    kind = settings.field_type(cls, field)
    choices = field.metadata.get("choices")
    if choices:
        flags.DEFINE_enum(field.name, default, list(choices), help_text, flag_values=fv)
    elif kind is bool:
        flags.DEFINE_bool(field.name, default, help_text, flag_values=fv)
    elif kind is int:
        flags.DEFINE_integer(field.name, default, help_text, flag_values=fv)
    elif kind is float:
        flags.DEFINE_float(field.name, default, help_text, flag_values=fv)
    else:
        flags.DEFINE_string(field.name, default, help_text, flag_values=fv)
    check = field.metadata.get("check")
    if check is not None:
        flags.register_validator(field.name, lambda v, c=check: v is None or _passes(c, v), check.message,
                                 flag_values=fv)


def _passes(check: settings.Check, value) -> bool:
    """check(value), with the reason a parser gave for refusing it added to the message."""
    try:
        return bool(check.test(value))
    except (TypeError, ValueError) as e:
        raise flags.ValidationError(f"{check.message} ({e})") from None


def define_train_flags(fv: flags.FlagValues = flags.FLAGS, config_cls=config_lib.ExperimentConfig) -> None:
    """One flag per field of `config_cls` (every model's fields included), plus --model
    and the shorthand --deterministic."""
    by_name: Dict[str, List[Tuple[type, dataclasses.Field]]] = {}
    for cls, field in _fields(config_cls):
        by_name.setdefault(field.name, []).append((cls, field))
    for name, found in by_name.items():
        cls, field = found[0]
        defaults = {f.default for _, f in found}
        help_text = field.metadata.get("help", "")
        if len(found) > 1 or cls in models.config_classes():
            model_names = [c.name for c, _ in found if c in models.config_classes()]
            help_text += f" [{', '.join(model_names)}]"
        if len(defaults) > 1:
            per_model = "; ".join(f"{c.name}: {f.default}" for c, f in found)
            _define(cls, field, None, f"{help_text} (default per model: {per_model})", fv)
        else:
            _define(cls, field, field.default, help_text, fv)
    flags.DEFINE_enum("model", "mlp", list(models.names()),
                      f"The model, one of the registered: {', '.join(models.names())}.", flag_values=fv)
    flags.DEFINE_bool("deterministic", False, "Shorthand for --nondeterminism=deterministic "
                      "(tf.config.experimental.enable_op_determinism()).", flag_values=fv)
    for alias, target in ALIASES.items():
        flags.DEFINE_alias(alias, target, flag_values=fv)


def misplaced_model_flags(fv: flags.FlagValues = flags.FLAGS, config_cls=config_lib.ExperimentConfig) -> list:
    """Model flags given on the command line (or a flagfile) that the chosen --model
    does not have: an error, not something to ignore silently."""
    own = config_lib.model_fields_of(fv["model"].value)
    every_model = {f.name for _, f in settings.fields_of(models.config_classes())}
    return [f"--{name}" for name in sorted(every_model - own - config_cls.fixed_field_names())
            if fv[name].present]


def foreign_flags(fv: flags.FlagValues, config_cls) -> list:
    """Flags of fields that `config_cls` does not have (a runner's own flags given to
    another runner), given on the command line or in a flagfile."""
    defined = {f.name for _, f in _fields(config_lib.ExperimentConfig)} | {"model", "deterministic"}
    return [f"--{name}" for name in sorted(set(_all_runner_fields()) - set(config_cls.field_names()))
            if name in fv and fv[name].present and name not in defined]


def _all_runner_fields() -> List[str]:
    from keras_initstudy import runners
    return sorted({n for name in runners.names() for n in runners.config_class(name).field_names()})


def config_or_exit(program: str, argv, fv: flags.FlagValues = flags.FLAGS,
                   config_cls=config_lib.ExperimentConfig) -> config_lib.ExperimentConfig:
    """The binaries' shared start: stray arguments, flags of another model or runner and
    invalid combinations end the program with one line '<program>: error: ...';
    otherwise the resolved config, with TensorFlow started (quiet.start_tensorflow)."""
    if len(argv) > 1:
        sys.exit(f"{program}: error: unexpected arguments {' '.join(argv[1:])} (flags start with --)")
    misplaced = misplaced_model_flags(fv, config_cls)
    if misplaced:
        sys.exit(f"{program}: error: {', '.join(misplaced)} does not apply to --model={fv['model'].value}")
    foreign = foreign_flags(fv, config_cls)
    if foreign:
        sys.exit(f"{program}: error: {', '.join(foreign)} does not apply to this runner")
    try:
        cfg = config_from_flags(fv, config_cls)
    except settings.ConfigError as e:
        sys.exit(f"{program}: error: {e}")
    quiet.start_tensorflow()  # the flags are valid: TensorFlow starts, without its start-up noise
    return cfg


def run_or_exit(program: str, run, cfg, resume_hint: str) -> None:
    """Runs `run(cfg)`; bad input, OS errors on the outputs and Ctrl-C end the program with
    one line '<program>: ...' instead of a traceback (errors.one_line_errors)."""
    with errors.one_line_errors(program, resume_hint):
        run(cfg)


def config_from_flags(fv: flags.FlagValues = flags.FLAGS,
                      config_cls=config_lib.ExperimentConfig) -> config_lib.ExperimentConfig:
    """The config the flags describe: fixed fields from their flags, the chosen model's
    fields from the flags given (the model's own defaults otherwise)."""
    model_fields = config_lib.model_fields_of(fv["model"].value)
    values = {"model": fv["model"].value}
    for name in config_cls.fixed_field_names():
        values[name] = fv[name].value
    for name in model_fields:
        if fv[name].value is not None:  # None: a per-model default, left to the model
            values[name] = fv[name].value
    if fv["deterministic"].value:
        if fv["nondeterminism"].present and fv["nondeterminism"].value != "deterministic":
            raise settings.ConfigError("--deterministic contradicts --nondeterminism="
                                       f"{fv['nondeterminism'].value}")
        values["nondeterminism"] = "deterministic"
    return config_cls.from_flat(values)


# --help's groups: a config section's flags under its title, in this order, then the binary's own.
SECTION_TITLES = {"data": "data", "model": "model", "training": "training (optimizer, schedule, seeds, precision)",
                  "measure": "instruments", "pruning": "pruning", "run": "run directory"}
HELP_ARGUMENTS = ("--help", "-help", "--helpshort", "-helpshort", "-?")


def flag_groups(fv: flags.FlagValues, program: str, config_classes: Sequence[type] = ()) -> Dict[str, list]:
    """The binary's flags (absl's own left out) by group title: config sections, then `program`'s."""
    section_of = {}
    if config_classes:
        section_of.update({"model": "model", "deterministic": "training"})
        section_of.update({f.name: "model" for _, f in settings.fields_of(models.config_classes())})
    for config_cls in config_classes:
        for section, section_cls in config_cls.FIXED.items():
            section_of.update({f.name: section for f in dataclasses.fields(section_cls)})
    groups: Dict[str, list] = {title: [] for title in SECTION_TITLES.values()}
    groups[program] = []
    for module, module_flags in fv.flags_by_module_dict().items():
        if module.startswith(("absl.", "tensorflow")):  # absl's own, and TFDS's debug flags
            continue
        for flag in module_flags:
            if flag.name in ALIASES:
                continue
            title = SECTION_TITLES[section_of[flag.name]] if flag.name in section_of else program
            groups[title].append(flag)
    return {title: sorted(found, key=lambda f: f.name) for title, found in groups.items() if found}


def describe_flag(flag) -> str:
    """'  --[no]name: help <a|b> (default: x)', wrapped under its name."""
    name = f"--[no]{flag.name}" if flag.boolean else f"--{flag.name}"
    text = flag.help  # absl puts an enum's choices first
    if flag.default is not None:
        text += f" (default: {flag.default_as_str})"
    return textwrap.fill(f"{name}: {text}", width=100, initial_indent="  ", subsequent_indent="      ",
                         break_long_words=False, break_on_hyphens=False)


def help_text(fv: flags.FlagValues, program: str, doc: str, config_classes: Sequence[type] = ()) -> str:
    """The binary's docstring, then its own flags by group (--helpfull lists absl's too)."""
    parts = [doc.strip(), ""]
    for title, found in flag_groups(fv, program, config_classes).items():
        parts += [f"{title}:", *(describe_flag(f) for f in found), ""]
    parts.append("--flagfile=FILE reads flags from FILE (flags/ holds one per paper experiment); "
                 "--helpfull lists absl's flags too.")
    return "\n".join(parts)


def parser(program: str, doc: Optional[str] = None, config_classes: Sequence[type] = (),
           fv: flags.FlagValues = flags.FLAGS) -> Callable[[List[str]], List[str]]:
    """app.run's flags_parser for a binary: --help prints help_text and exits 0; a bad flag
    ends the program with one line '<program>: error: ...' (status 1), before TensorFlow."""
    def parse(argv: List[str]) -> List[str]:
        given = argv[1:argv.index("--")] if "--" in argv else argv[1:]
        if any(a in HELP_ARGUMENTS for a in given):
            print(help_text(fv, program, doc or sys.modules["__main__"].__doc__ or "", config_classes))
            sys.exit(0)
        try:
            return fv(argv)
        except flags.Error as e:
            sys.exit(f"{program}: error: {' '.join(str(e).split())} (--help lists the flags)")
    return parse
