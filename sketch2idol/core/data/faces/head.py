"""The head's skin and what is under it: face contour, ears, neck, shoulders, clothes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketch2idol.core.data.faces import palette, shapes
from sketch2idol.core.data.faces.canvas import Canvas, Material
from sketch2idol.core.data.faces.labels import Label
from sketch2idol.core.data.faces.layout import Layout

OUTLINE = 0.0042  # line-art width, fraction of the image side
FOREHEAD_TOP = 0.31  # face contour top above the eye line (hidden under the hair)
NECK_BASE = 0.465  # where the neck meets the chest, below the eye line


def outline_colour(rgb) -> np.ndarray:
    """The colour of the line art around a region of colour `rgb`: darker, warmer."""
    return palette.shade(palette.mix(rgb, (70, 30, 30), 0.25), 0.55)


@dataclass(frozen=True)
class FaceShape:
    """The face contour; points relative to (layout.cx, layout.eye_y) unless named absolute."""

    contour: np.ndarray  # closed polygon, absolute
    right_half: np.ndarray  # x >= 0 offsets, from the forehead top down to the chin
    chin_y: float
    jaw_y: float

    def half_width(self, y) -> np.ndarray:
        """Half the face's width at heights `y` (relative); 0 above the top and below the chin."""
        y = np.asarray(y, dtype=np.float64)
        x = shapes.interp_x(self.right_half, y)
        inside = (y >= self.right_half[0, 1]) & (y <= self.chin_y)
        return np.where(inside, x, 0.0)


def face_shape(face: dict, layout: Layout) -> FaceShape:
    cheek, temple, jaw = face["cheek"], face["temple"], face["jaw"]
    jaw_y, chin_y, chin_w = face["jaw_y"], face["chin_y"], face["chin_width"]
    chin_side_y = chin_y - 0.005 - chin_w * 0.15
    lower_x = chin_w + (jaw - chin_w) * 0.62 + 0.012
    lower_y = jaw_y + (chin_side_y - jaw_y) * 0.55
    right = np.array([
        (temple * 0.72, -FOREHEAD_TOP + 0.025), (temple, -0.14), (cheek, 0.02),
        (cheek - (cheek - jaw) * 0.12, 0.1), (jaw, jaw_y), (lower_x, lower_y),
        (chin_w, chin_side_y),
    ])
    left = right[::-1] * [-1, 1]
    ring = np.concatenate([[(0.0, -FOREHEAD_TOP)], right, [(0.0, chin_y)], left])
    contour = shapes.catmull_rom(ring, samples=8, closed=True)
    half = contour[: (len(right) + 1) * 8 + 1]  # from the top through the chin
    origin = np.array([layout.cx, layout.eye_y])
    return FaceShape(contour=contour + origin, right_half=half, chin_y=chin_y, jaw_y=jaw_y)


def draw_face(canvas: Canvas, shape: FaceShape, skin: np.ndarray) -> None:
    canvas.fill(shape.contour, skin, Material.FACE, Label.FACE_SKIN)
    # Line art from temple to temple round the chin (the top is always under the hair).
    n = len(shape.contour)
    line = np.concatenate([shape.contour[n // 8:], shape.contour[: 1]])[: n * 3 // 4 + 1]
    widths = OUTLINE * shapes.taper(len(line), 0.5, 0.3, 0.3)
    canvas.fill(shapes.stroke(line, widths), outline_colour(skin), Material.FACE,
                Label.FACE_SKIN)


def ear_outlines(shape: FaceShape, layout: Layout) -> list[tuple[np.ndarray, np.ndarray]]:
    """(outline, inner fold) of the image-right then the image-left ear, absolute."""
    top, bottom = -0.01, 0.105
    xt, xb = shape.half_width([top, bottom]) - 0.008
    right = np.array([(xt, top), (xt + 0.022, top - 0.012), (xt + 0.036, top + 0.012),
                      (xt + 0.034, top + 0.05), (xb + 0.02, bottom - 0.01), (xb, bottom)])
    inner = np.array([(xt + 0.012, top + 0.008), (xt + 0.024, top + 0.012),
                      (xt + 0.022, top + 0.045), (xb + 0.01, bottom - 0.025)])
    origin = np.array([layout.cx, layout.eye_y])
    return [(shapes.catmull_rom(right * [side, 1], 6) + origin,
             shapes.catmull_rom(inner * [side, 1], 5) + origin) for side in (1.0, -1.0)]


def draw_ears(canvas: Canvas, shape: FaceShape, layout: Layout, skin: np.ndarray) -> None:
    ear_colour = palette.mix(skin, (236, 140, 130), 0.12)
    for outline, fold in ear_outlines(shape, layout):
        canvas.fill(outline, ear_colour, Material.SKIN, Label.BODY_SKIN)
        canvas.fill(shapes.stroke(outline, OUTLINE), outline_colour(skin), Material.SKIN,
                    Label.BODY_SKIN)
        canvas.fill(shapes.stroke(fold, OUTLINE * 0.7 * shapes.taper(len(fold), 0.4)),
                    outline_colour(skin), Material.SKIN, Label.BODY_SKIN)


def _body_side(neck: float, shoulders: float, lift: float) -> np.ndarray:
    """Right half of the neck-and-shoulders silhouette, from the neck's top down."""
    base = NECK_BASE - lift
    return np.array([(neck, 0.22), (neck * 1.02, 0.38), (neck * 1.08, base - 0.02),
                     (neck + 0.07, base + 0.03), (shoulders * 0.75, base + 0.06),
                     (shoulders, base + 0.11), (shoulders + 0.12, 0.75)])


def body_outline(face: dict, clothes: dict, layout: Layout) -> np.ndarray:
    """The neck-and-shoulders silhouette, absolute, from the bottom left round to the
    bottom right (an open polyline; as a polygon it closes along the bottom)."""
    right = shapes.catmull_rom(_body_side(face["neck"], clothes["shoulders"], 0.0), 6)
    return np.concatenate([right[::-1] * [-1, 1], right]) + [layout.cx, layout.eye_y]


def draw_body(canvas: Canvas, face: dict, clothes: dict, layout: Layout,
              skin: np.ndarray) -> None:
    """Neck, chest skin and clothes; all below the face, drawn before it."""
    origin = np.array([layout.cx, layout.eye_y])
    body = body_outline(face, clothes, layout)
    canvas.fill(body, skin, Material.SKIN, Label.BODY_SKIN)
    canvas.fill(shapes.stroke(body, OUTLINE), outline_colour(skin), Material.SKIN,
                Label.BODY_SKIN)
    _draw_clothes(canvas, clothes, face["neck"], layout, origin)


def _clothes_half(clothes: dict, neck: float) -> np.ndarray:
    """Right half of the clothes' outline (relative), from the neckline's centre out."""
    kind = clothes["neckline"]
    shoulders = clothes["shoulders"]
    right = shapes.catmull_rom(_body_side(neck + 0.012, shoulders + 0.01, 0.012)[3:], 6)
    base = NECK_BASE - 0.02
    if kind == "turtleneck":
        top = 0.36
        collar = np.array([(0.0, top + 0.012), (neck * 0.6, top + 0.006), (neck + 0.012, top),
                           (neck + 0.016, base - 0.02), (neck + 0.03, base + 0.01)])
        neckline = shapes.catmull_rom(collar, 5)
    elif kind == "v":
        depth = 0.1
        neckline = np.array([(0.0, base + depth), (neck * 0.7, base + 0.03),
                             (neck + 0.03, base + 0.01)])
    else:
        depth, width = {"crew": (0.035, 0.015), "collar": (0.05, 0.015),
                        "scoop": (0.085, 0.05)}[kind]
        neckline = shapes.catmull_rom(np.array([
            (0.0, base + depth), ((neck + width) * 0.6, base + depth * 0.8),
            (neck + width, base + 0.005), (neck + width + 0.015, base + 0.015)]), 6)
    return np.concatenate([neckline, right])


def clothes_polygon(clothes: dict, face: dict, layout: Layout) -> np.ndarray:
    """The clothes' outline as a polygon, absolute."""
    half = _clothes_half(clothes, face["neck"])
    return np.concatenate([half[::-1] * [-1, 1], half]) + np.array([layout.cx, layout.eye_y])


def _draw_clothes(canvas: Canvas, clothes: dict, neck: float, layout: Layout,
                  origin: np.ndarray) -> None:
    cloth = np.array(clothes["color"])
    accent = np.array(clothes["accent"])
    kind = clothes["neckline"]
    base = NECK_BASE - 0.02
    half = _clothes_half(clothes, neck)
    polygon = np.concatenate([half[::-1] * [-1, 1], half]) + origin
    canvas.fill(polygon, cloth, Material.CLOTH, Label.CLOTHES)
    edge = np.concatenate([half[::-1] * [-1, 1], half])[:-1] + origin
    canvas.fill(shapes.stroke(edge, OUTLINE), outline_colour(cloth), Material.CLOTH,
                Label.CLOTHES)
    if kind == "turtleneck":
        for k, y in enumerate((0.39, 0.42)):
            fold = np.array([(-neck * 0.8, y), (0.0, y + 0.008), (neck * 0.8 - 0.01 * k, y)])
            fold = shapes.catmull_rom(fold, 6) + origin
            canvas.fill(shapes.stroke(fold, OUTLINE * 0.7 * shapes.taper(len(fold))),
                        outline_colour(cloth), Material.CLOTH, Label.CLOTHES)
    elif kind == "collar":
        for side in (1.0, -1.0):
            flap = np.array([(0.0, base + 0.05), (neck + 0.02, base - 0.012),
                             (neck + 0.06, base + 0.02), (0.03, base + 0.085)]) * [side, 1]
            flap = flap + origin
            canvas.fill(flap, accent, Material.CLOTH, Label.ACCENT)
            closed = np.concatenate([flap, flap[:1]])
            canvas.fill(shapes.stroke(closed, OUTLINE * 0.8), outline_colour(accent),
                        Material.CLOTH, Label.ACCENT)
