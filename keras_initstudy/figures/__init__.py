"""The papers' figures, drawn from run directories and sweep tables: one registry, one entry point.

    python -m keras_initstudy.figures                                   # lists every figure
    python -m keras_initstudy.figures jesus2021/fig5 --inputs=runs/x-table.parquet --out=fig5.png
    python -m keras_initstudy.figures NAME --help                       # its inputs and options

    from keras_initstudy import figures
    figures.draw("jesus2021/fig5", "runs/x-table.parquet", "fig5.png")

registry.py   the Figure registry and the one input convention (Inputs)
common.py     what every figure shares (tables, seed statistics, axes, saving)
jesus2021.py, schicho2022.py, blumenfeld2020.py, lottery.py (wijnja2020, frankle2020),
frankle2020.py: the figures, each registered by its paper's author-year and figure.
"""
import types
from typing import Any, Optional

from keras_initstudy import errors, rundir
# importing each paper's module registers its figures
from keras_initstudy.figures import blumenfeld2020, frankle2020, jesus2021, lottery, schicho2022  # noqa: F401
from keras_initstudy.figures.registry import FIGURES, Figure, Inputs


def names():
    """Every registered figure's name (author-year/figure)."""
    return FIGURES.names()


def get(name: str) -> Figure:
    return FIGURES.get(name)


def draw(name: str, inputs: str, out: Optional[str] = None, **options: Any) -> Any:
    """Draws figure `name` from `inputs` (the registry's convention) with its options (the
    others at their defaults) and writes it to `out` (PNG; a text report to .txt, or printed
    when `out` is None). Returns what the figure drew (a matplotlib figure, or the text)."""
    fig = get(name)
    unknown = sorted(set(options) - set(fig.defaults()))
    if unknown:
        raise errors.UserError(f"{name} has no option {', '.join(unknown)}; it has: "
                               f"{', '.join(fig.defaults()) or 'none'}")
    drawn = fig.draw(Inputs(inputs), types.SimpleNamespace(**{**fig.defaults(), **options}))
    if isinstance(drawn, str):
        if out:
            rundir.write_text(out, drawn + "\n")
            print(f"wrote {out}")
        else:
            print(drawn)
        return drawn
    if not out:
        raise errors.UserError(f"{name} draws a figure: give --out=FILE.png")
    from keras_initstudy.figures import common
    common.save(drawn, out)
    return drawn


__all__ = ["draw", "names", "get", "Inputs"]
