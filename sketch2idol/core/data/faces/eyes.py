"""Eyes (lids, sclera, iris, pupil, highlights, lashes, crease) and eyebrows.

Each eye is designed once in a local frame (x towards the outer corner, y down, origin at
the eye landmark, unit = image side), tilted, then mirrored for the image-left eye. The
local frame is shifted so the mean of the lid outline, the same definition the ingestion
uses for a photo's eye centre (the mean of the eye contour ring), sits on the landmark.
"""

from __future__ import annotations

import numpy as np

from sketch2idol.core.data.faces import palette, shapes
from sketch2idol.core.data.faces.canvas import Canvas, Material
from sketch2idol.core.data.faces.head import outline_colour
from sketch2idol.core.data.faces.labels import Label
from sketch2idol.core.data.faces.layout import Layout


def eye_outline(eyes: dict) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lid curves of the image-right eye, local frame, inner -> outer."""
    w = eyes["width"]
    h = w * eyes["openness"]
    peak = eyes["peak"]
    inner = np.array([-w / 2, h * 0.12])
    outer = np.array([w / 2, h * 0.02])
    upper = shapes.bezier([inner, (-w * (0.22 - peak * 0.4), -h * 0.66),
                           (w * (0.2 + peak * 0.4), -h * 0.7), outer], 20)
    lower = shapes.bezier([inner, (-w * 0.2, h * 0.62), (w * 0.24, h * 0.6), outer], 20)
    centre = np.concatenate([upper, lower]).mean(axis=0)
    return upper - centre, lower - centre


def eye_to_image(points: np.ndarray, eyes: dict, side: float, centre) -> np.ndarray:
    """Local frame -> image: tilt (outer corner up for tilt > 0), mirror, translate."""
    p = shapes.rotate(points, -np.radians(eyes["tilt"]), (0.0, 0.0))
    return p * [side, 1.0] + np.asarray(centre)


def _draw_eye(canvas: Canvas, eyes: dict, skin: np.ndarray, side: float, centre,
              light_x: float) -> None:
    w = eyes["width"]
    upper, lower = eye_outline(eyes)
    h = lower[:, 1].max() - upper[:, 1].min()
    opening = np.concatenate([upper, lower[::-1]])
    place = lambda pts: eye_to_image(pts, eyes, side, centre)  # noqa: E731

    sclera = np.array(eyes["sclera"])
    canvas.fill(place(opening), sclera, Material.EYE, Label.EYE_WHITE)

    iris = np.array(eyes["iris_color"])
    r = w * eyes["iris_size"] / 2 * 1.0
    rx, ry = r * 0.86, r
    gx, gy = eyes["gaze"]
    ic = np.array([gx * w, gy * w])  # local frame; gaze x > 0 looks outwards
    highlight_side = -side * light_x  # local x of the light, mirrored per eye
    with canvas.clipped(place(opening)) as sub:
        # Shadow the upper lid casts on the eyeball.
        lid_shadow = np.concatenate([upper, (upper + [0.0, h * 0.3])[::-1]])
        sub.fill(place(lid_shadow), palette.shade(sclera, (0.8, 0.82, 0.9)), None,
                 Label.EYE_WHITE)
        sub.fill(place(shapes.ellipse(ic, (rx, ry), samples=40)),
                 palette.shade(iris, 0.55), None, Label.IRIS)
        sub.fill(place(shapes.ellipse(ic + [0.0, ry * 0.08], (rx * 0.88, ry * 0.88),
                                      samples=40)), iris, None, Label.IRIS)
        sub.fill(place(shapes.ellipse(ic + [0.0, ry * 0.42], (rx * 0.62, ry * 0.4),
                                      samples=32)),
                 palette.mix(iris, (255, 255, 255), 0.22), None, Label.IRIS)
        ps = eyes["pupil_size"]
        sub.fill(place(shapes.ellipse(ic + [0.0, -ry * 0.05], (rx * ps, ry * ps * 1.1),
                                      samples=32)),
                 palette.shade(iris, 0.28), None, Label.IRIS)
        hs = eyes["highlight"]
        sub.fill(place(shapes.ellipse(ic + [highlight_side * rx * 0.38, -ry * 0.36],
                                      (rx * hs * 1.1, ry * hs), samples=24)),
                 (255, 255, 255), None, Label.EYE_WHITE)
        sub.fill(place(shapes.ellipse(ic + [-highlight_side * rx * 0.35, ry * 0.45],
                                      (rx * hs * 0.45, ry * hs * 0.4), samples=16)),
                 (255, 255, 255), None, Label.EYE_WHITE)

    lash = np.array(eyes["lash_color"])
    lw = eyes["lash_width"]
    # Upper lid line, thickening towards the outer corner and ending in a flick.
    tail = upper[-1] + np.array([w * 0.1, -h * 0.12])
    lid = shapes.catmull_rom(np.concatenate([upper[::3], [upper[-1], tail]]), 4)
    widths = lw * shapes.taper(len(lid), 0.78, 0.25, 0.0)
    canvas.fill(place(shapes.stroke(lid + [0.0, -lw * 0.15], widths)), lash, Material.EYE,
                Label.LASHES)
    normals = shapes.normals(upper)
    for k in range(eyes["lashes"]):
        i = len(upper) - 2 - k * 3
        base = upper[i] + [0.0, -lw * 0.3]
        direction = normals[i] * [1, 1] + [0.9, 0.0]
        if direction[1] > 0:
            direction = -direction
        direction = direction / np.hypot(*direction)
        spike = np.array([base, base + direction * w * 0.09])
        spike = shapes.bezier([spike[0], spike[0] + direction * w * 0.05 + [w * 0.02, 0.0],
                               spike[1]], 6)
        canvas.fill(place(shapes.stroke(spike, lw * 0.55 * shapes.taper(len(spike), 0.0, 1.0))),
                    lash, Material.EYE, Label.LASHES)
    # Lower lid: a thin line on its outer part, softer than the upper one.
    if eyes["lower_lid"] > 0.25:
        start = int(len(lower) * (0.75 - 0.55 * eyes["lower_lid"]))
        part = lower[start:]
        canvas.fill(place(shapes.stroke(part, lw * 0.32 * shapes.taper(len(part), 0.75))),
                    palette.mix(lash, skin, 0.35), Material.EYE, Label.LASHES)
    if eyes["crease"]:
        crease = upper[5:-2] + [w * 0.04, -h * 0.32]
        canvas.fill(place(shapes.stroke(crease, lw * 0.28 * shapes.taper(len(crease), 0.6))),
                    outline_colour(skin), Material.FACE, Label.FACE_SKIN)


def draw_eyes(canvas: Canvas, eyes: dict, layout: Layout, skin: np.ndarray,
              light_x: float) -> None:
    _draw_eye(canvas, eyes, skin, 1.0, layout.right_eye, light_x)
    _draw_eye(canvas, eyes, skin, -1.0, layout.left_eye, light_x)


def brow_curve(brows: dict, eyes: dict, layout: Layout) -> np.ndarray:
    """Centre line of the image-right brow, absolute, inner end first."""
    inner_x = layout.half_ipd - eyes["width"] / 2 + brows["inner"]
    outer_x = inner_x + brows["length"]
    y = -brows["height"]
    lift = np.tan(np.radians(brows["angle"])) * brows["length"]
    shape = brows["shape"]
    a = np.array([inner_x, y + lift * 0.5])
    b = np.array([outer_x, y - lift * 0.5 + 0.012])
    if shape == "straight":
        control = [(a + b) / 2 + [0.0, -0.004]]
    elif shape == "arched":
        control = [a + (b - a) * 0.55 + [0.0, -0.02]]
    elif shape == "angled":
        control = [a + (b - a) * 0.68 + [0.0, -0.018], a + (b - a) * 0.75 + [0.0, -0.018]]
    else:  # soft: low and gently curved
        control = [(a + b) / 2 + [0.0, -0.01]]
        b = b + [0.0, 0.006]
    curve = shapes.bezier([a, *control, b], 14)
    return curve + [layout.cx, layout.eye_y]


def draw_brows(canvas: Canvas, brows: dict, eyes: dict, layout: Layout) -> None:
    curve = brow_curve(brows, eyes, layout)
    widths = brows["thickness"] * shapes.taper(len(curve), 0.2, 0.65, 0.15)
    rgb = np.array(brows["color"])
    for side in (1.0, -1.0):
        pts = curve if side > 0 else shapes.mirror_x(curve, layout.cx)
        canvas.fill(shapes.stroke(pts, widths), rgb, Material.FACE, Label.BROWS)
