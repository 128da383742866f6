"""The nose: a few small strokes and shadows in an illustrator's shorthand."""

from __future__ import annotations

import numpy as np

from sketch2idol.core.data.faces import palette, shapes
from sketch2idol.core.data.faces.canvas import Canvas, Material
from sketch2idol.core.data.faces.labels import Label
from sketch2idol.core.data.faces.layout import Layout


def draw_nose(canvas: Canvas, nose: dict, layout: Layout, skin: np.ndarray,
              light_x: float) -> None:
    """Draw at the nose-tip landmark; shadows fall on the side away from the light."""
    k = nose["size"]
    side = -1.0 if light_x > 0 else 1.0  # the shadow side
    tip = np.array([layout.cx, layout.nose_y])
    ink = palette.shade(palette.mix(skin, (150, 60, 60), 0.25), nose["darkness"])
    ink = palette.contrasting(ink, skin, 0.24, (30, 12, 12))
    soft = palette.mix(skin, ink, 0.3)
    style = nose["style"]

    def line(points, width, peak=0.5, start=0.0, end=0.0, rgb=ink):
        pts = shapes.catmull_rom(np.asarray(points) * [side * k, k] + tip, 6)
        canvas.fill(shapes.stroke(pts, width * shapes.taper(len(pts), peak, start, end)), rgb,
                    Material.FACE, Label.NOSE)

    if style == "wedge":  # a small wedge under the tip
        line([(0.02, -0.012), (0.005, 0.004), (-0.017, 0.003)], 0.006, 0.35, 0.4, 0.15)
    elif style == "line":  # the shadow side of the bridge
        line([(0.012, -0.055), (0.011, -0.03), (0.008, -0.006), (0.001, 0.004)], 0.0046,
             0.8, 0.15, 0.35)
    elif style == "hook":
        line([(0.011, -0.036), (0.01, -0.01), (0.005, 0.004), (-0.011, 0.005)], 0.005,
             0.45, 0.15, 0.2)
    elif style == "shadow":
        shadow = np.array([(0.004, -0.075), (0.014, -0.04), (0.014, -0.016), (0.006, -0.01),
                           (0.002, -0.035)]) * [side * k, k] + tip
        canvas.fill(shapes.catmull_rom(shadow, 5, closed=True), soft, Material.FACE,
                    Label.NOSE)
        line([(0.022, -0.008), (0.006, 0.004), (-0.02, 0.003)], 0.0058, 0.4, 0.3, 0.15)
    else:  # nostrils under a soft tip line
        line([(-0.018, -0.007), (0.0, 0.003), (0.018, -0.007)], 0.0052, 0.5, 0.3, 0.3, ink)
        for s in (-1.0, 1.0):
            canvas.fill(shapes.ellipse(tip + [s * 0.01 * k, 0.0015 * k],
                                       (0.0055 * k, 0.003 * k), angle=s * 0.4, samples=16),
                        ink, Material.FACE, Label.NOSE)
