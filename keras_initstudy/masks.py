"""Letter-shaped masks stamped on a weight matrix (paper 000 §4, footnote 5, Fig. 1).

"The letters are stamped to a network's initial configuration of weights by creating
a bitmap of the same shape as the matrix of weights of the layer being marked,
rasterizing the letter to the bitmap, and using the resulting binary mask to set to
zero the weights laying outside the mark's area."

The glyph outline comes from matplotlib's bundled font (TextPath), so no font files
are needed; a pixel is inside when its centre is inside an odd number of the
glyph's contours (the even-odd rule, which leaves the holes of 'a', 'e', 'o' open).
"""
import functools
from typing import List, Tuple

import numpy as np

FONT_FAMILY, FONT_WEIGHT = "DejaVu Sans", "bold"  # matplotlib is imported on first use (flags parse without it)
MARGIN = 0.05  # fraction of each side left empty around the glyph


@functools.lru_cache(maxsize=None)
def font_properties():
    from matplotlib.font_manager import FontProperties
    return FontProperties(family=FONT_FAMILY, weight=FONT_WEIGHT)


@functools.lru_cache(maxsize=None)
def _font():
    from matplotlib.font_manager import findfont, get_font
    return get_font(findfont(font_properties()))


def missing_characters(text: str) -> List[str]:
    """The visible characters of `text` the font has no glyph for (it would draw its
    missing-glyph box instead, a frame-shaped mask)."""
    return [c for c in dict.fromkeys(text) if not c.isspace() and _font().get_char_index(ord(c)) == 0]


def check_text(text: str) -> None:
    """Raises ValueError, in one line, for text that cannot be drawn as a mask."""
    if not text.strip():
        raise ValueError("mask text must contain a visible character")
    missing = missing_characters(text)
    if missing:
        raise ValueError(f"the mask font ({FONT_FAMILY} {FONT_WEIGHT}) has no glyph for "
                         f"{', '.join(repr(c) for c in missing)}")


def glyph_mask(shape: Tuple[int, int], text: str = "a", margin: float = MARGIN) -> np.ndarray:
    """A float32 0/1 matrix of `shape` (rows, cols) with `text` rasterised on it.

    The glyph's bounding box is centred and stretched to fill the matrix, less
    `margin` on each side; row 0 is the top, so the letter reads upright when the
    matrix is shown as an image (rows = inputs of a Dense kernel, cols = outputs).
    """
    rows, cols = int(shape[0]), int(shape[1])
    if rows < 1 or cols < 1:
        raise ValueError(f"mask shape must be positive, got {shape}")
    from matplotlib.path import Path
    from matplotlib.textpath import TextPath
    check_text(text)
    path = TextPath((0, 0), text, size=1, prop=font_properties())
    polygons = path.to_polygons()
    points = np.concatenate(polygons)
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.maximum(high - low, 1e-9)
    # Pixel centres in glyph coordinates (y grows upwards in the glyph, downwards in rows).
    col_centres = (np.arange(cols) + 0.5) / cols
    row_centres = (np.arange(rows) + 0.5) / rows
    u = (col_centres - margin) / (1 - 2 * margin)
    v = 1.0 - (row_centres - margin) / (1 - 2 * margin)
    xx, yy = np.meshgrid(low[0] + u * span[0], low[1] + v * span[1])
    centres = np.stack([xx.ravel(), yy.ravel()], axis=1)
    inside = np.zeros(len(centres), dtype=bool)
    for polygon in polygons:
        inside ^= Path(polygon).contains_points(centres)
    return inside.reshape(rows, cols).astype(np.float32)


def render(mask: np.ndarray, on: str = "#", off: str = ".") -> str:
    """Text picture of a mask, for logs and for eyeballing in tests."""
    return "\n".join("".join(on if v else off for v in row) for row in np.asarray(mask))
