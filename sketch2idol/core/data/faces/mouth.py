"""The mouth: two-tone lips, the line between them, and for open mouths teeth and tongue.

The mouth landmark is the mean of the two lip corners and the two inner-lip midpoints,
the definition ingestion uses for photos; the mouth line is placed so that mean lands on
the landmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketch2idol.core.data.faces import palette, shapes
from sketch2idol.core.data.faces.canvas import Canvas, Material
from sketch2idol.core.data.faces.head import outline_colour
from sketch2idol.core.data.faces.labels import Label
from sketch2idol.core.data.faces.layout import Layout

MOUTH_INTERIOR = (118, 38, 48)
TEETH = (250, 247, 242)
TONGUE = (214, 104, 112)


def mouth_line_y(mouth: dict, layout: Layout) -> float:
    """Height of the mouth line's centre that puts the landmark definition on target."""
    return layout.mouth_y - mouth["curve"] / 2 - mouth["open"] / 4


def _line(xs: np.ndarray, mouth: dict) -> np.ndarray:
    """Offset of the mouth line below its centre at horizontal offsets `xs`."""
    u = xs / (mouth["width"] / 2)
    return mouth["curve"] * u * u


@dataclass(frozen=True)
class MouthShape:
    """The mouth's curves, relative to `origin` (the centre of the mouth line)."""

    origin: np.ndarray  # absolute
    line: np.ndarray  # the mouth line, left corner -> right corner
    upper: np.ndarray  # upper lip polygon: the cupid's bow, then the line back
    lower_top: np.ndarray  # the lower lip's top edge (the line, or below an opening)
    lower: np.ndarray  # lower lip polygon: its top edge, then its bottom edge back


def mouth_shape(mouth: dict, layout: Layout) -> MouthShape:
    w, up, lo, gap = mouth["width"], mouth["upper"], mouth["lower"], mouth["open"]
    curve = mouth["curve"]
    xs = np.linspace(-w / 2, w / 2, 25)
    line = np.stack([xs, _line(xs, mouth)], axis=1)
    # Upper lip: a cupid's bow over the mouth line.
    bow = np.array([(-w / 2, curve), (-w * 0.3, curve * 0.3 - up * 0.75),
                    (-w * 0.12, -up), (0.0, -up * 0.74), (w * 0.12, -up),
                    (w * 0.3, curve * 0.3 - up * 0.75), (w / 2, curve)])
    upper = np.concatenate([shapes.catmull_rom(bow, 5), line[::-1]])
    # Lower lip: below the mouth line (or below the opening).
    lxs = np.linspace(-w * 0.42, w * 0.42, 17)
    bottom_of_gap = gap * np.clip(1 - (xs / (w / 2)) ** 2, 0, 1) ** 0.7
    lower_top = line + np.stack([np.zeros_like(xs), bottom_of_gap], axis=1)
    lower_bottom = np.stack(
        [lxs, _line(lxs, mouth) * 0.6 + gap + lo * np.sqrt(np.clip(
            1 - (lxs / (w * 0.42)) ** 2, 0, 1)) ** 0.8], axis=1)
    lower = np.concatenate([lower_top, lower_bottom[::-1]])
    origin = np.array([layout.cx, mouth_line_y(mouth, layout)])
    return MouthShape(origin=origin, line=line, upper=upper, lower_top=lower_top, lower=lower)


def draw_mouth(canvas: Canvas, mouth: dict, layout: Layout, skin: np.ndarray,
               light_x: float) -> None:
    w, lo, gap = mouth["width"], mouth["lower"], mouth["open"]
    curve = mouth["curve"]
    shape = mouth_shape(mouth, layout)
    origin, line, lower_top = shape.origin, shape.line, shape.lower_top
    lips = np.array(mouth["lip_color"])
    ink = palette.shade(palette.mix(lips, (90, 20, 30), 0.45), 0.62)

    canvas.fill(shape.upper + origin, palette.shade(lips, 0.84), Material.FACE, Label.LIPS)
    canvas.fill(shape.lower + origin, lips, Material.FACE, Label.LIPS)
    side = 1.0 if light_x > 0 else -1.0
    canvas.fill(shapes.ellipse(origin + [side * w * 0.1, gap + lo * 0.45],
                               (w * 0.1, lo * 0.22), samples=20),
                palette.mix(lips, (255, 240, 240), 0.2), Material.FACE, Label.LIPS)

    if mouth["chin_line"]:  # the shadow under the lower lip, as a short stroke
        y = gap + lo + 0.006
        half = max(w * 0.22, 0.02)
        under = shapes.bulge((-half, y), (half, y), -0.15, 10)
        canvas.fill(shapes.stroke(under + origin, 0.0042 * shapes.taper(len(under), 0.5, 0.2, 0.2)),
                    outline_colour(skin), Material.FACE, Label.FACE_SKIN)
    if gap > 0:
        opening = np.concatenate([line, lower_top[::-1]]) + origin
        canvas.fill(opening, MOUTH_INTERIOR, Material.FACE, Label.MOUTH)
        with canvas.clipped(opening) as sub:
            teeth = np.concatenate([line, (line + [0.0, gap * 0.4])[::-1]]) + origin
            sub.fill(teeth, TEETH, None, Label.MOUTH)
            sub.fill(shapes.ellipse(origin + [0.0, gap * 1.05], (w * 0.24, gap * 0.42),
                                    samples=24), TONGUE, None, Label.MOUTH)
        rim = np.concatenate([line, lower_top[::-1], line[:1]]) + origin
        canvas.fill(shapes.stroke(rim, 0.0028), ink, Material.FACE, Label.MOUTH)
    else:
        stroke_line = line
        if mouth["shape"] == "smile":  # little upturns past the corners
            end = np.array([[-w / 2 - 0.006, curve - 0.004]])
            stroke_line = np.concatenate([end, line, end * [-1, 1]])
        widths = 0.0034 * shapes.taper(len(stroke_line), 0.5, 0.15, 0.15)
        canvas.fill(shapes.stroke(stroke_line + origin, widths), ink, Material.FACE,
                    Label.MOUTH)
