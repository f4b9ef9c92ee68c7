"""python -m keras_initstudy.figures [NAME --inputs=... --out=... --OPTION=value ...]

Without NAME: the registered figures, one line each. With NAME: that figure's flags are
--inputs (tables, run directories or output folders: comma-separated, globs allowed),
--out (the PNG; a report's .txt, or none to print it) and the figure's own options.
Bad input ends with one line and status 1.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from keras_initstudy import errors, figures  # noqa: E402

PROGRAM = "figures"


def listing() -> str:
    lines = ["usage: python -m keras_initstudy.figures NAME --inputs=... --out=FILE.png [options]", "", "figures:"]
    for name in figures.names():
        fig = figures.get(name)
        lines.append(f"  {name:26s} {fig.title} (inputs: {fig.inputs})")
    return "\n".join(lines)


def flag_values(name: str) -> flags.FlagValues:
    """--inputs, --out and the figure's options, as absl flags."""
    fig = figures.get(name)
    fv = flags.FlagValues()
    flags.DEFINE_string("inputs", None, f"The figure's {fig.inputs}: sweep tables (.csv, .parquet), run directories "
                        "or output folders; comma-separated, globs allowed.", flag_values=fv)
    flags.DEFINE_string("out", None, "File to write (PNG; a text report: .txt, or printed without --out).",
                        flag_values=fv)
    for option in fig.options:
        kind = type(option.default)
        if option.choices:
            flags.DEFINE_enum(option.name, option.default, list(option.choices), option.help, flag_values=fv)
        elif kind is bool:
            flags.DEFINE_bool(option.name, option.default, option.help, flag_values=fv)
        elif kind is int:
            flags.DEFINE_integer(option.name, option.default, option.help, flag_values=fv)
        elif kind is float:
            flags.DEFINE_float(option.name, option.default, option.help, flag_values=fv)
        else:
            flags.DEFINE_string(option.name, option.default, option.help, flag_values=fv)
    return fv


def main(argv) -> None:
    if len(argv) < 2 or argv[1] in ("-h", "--help", "--helpfull"):
        print(listing())
        return
    name = argv[1]
    with errors.one_line_errors(PROGRAM):
        fv = flag_values(name)
        if any(a in ("-h", "--help", "--helpfull") for a in argv[2:]):
            print(f"{name}: {figures.get(name).title}\n{figures.get(name).draw.__doc__ or ''}\n")
            print(fv.get_help())
            return
        try:
            fv([argv[0], *argv[2:]])
        except flags.Error as e:
            raise errors.UserError(str(e)) from None
        if not fv["inputs"].value:
            raise errors.UserError("--inputs is required (tables, run directories or output folders)")
        fig = figures.get(name)
        options = {o.name: fv[o.name].value for o in fig.options}
        figures.draw(name, fv["inputs"].value, fv["out"].value, **options)


if __name__ == "__main__":
    main(sys.argv)
