"""Casual drawings: each procedural face drawn the way a person draws it in ten seconds.

A person draws an outline, simple eyes, a nose line, a mouth and the hair's silhouette, not
the edge map of a render. This module draws exactly that from the face's own geometry (the
Layout, the face contour, the hair's outline, the eye, brow, nose and mouth parameters), so
every part sits where the render and its detailed sketch have it and stage 1's component
windows see the same parts. The pen wobbles, varies in width and pressure, overshoots,
breaks and goes over lines twice; parts go missing; the whole drawing shifts and scales a
little.

A drawing is described by a small JSON dict (`sample_casual`): the named style, the choices
made for each part, and the seed of the pen's own random stream, so `draw_casual(params,
size, casual)` always draws the same lines. Output: uint8 [S, S], black (0) lines on white
(255), anti-aliased; widths and wobble are given in pixels at 256 and scale with the size.

Silhouettes come from a region map of the renderer's own polygons (hair, face, ears, neck,
clothes), painted in the renderer's order, so an edge is drawn only where it is visible in
the photo: the hair's edge against the background, the face and the neck, and the face
contour where the hair does not cover it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import cv2
import numpy as np

from sketch2idol.core.data.faces import eyes as eye_parts
from sketch2idol.core.data.faces import hair as hair_parts
from sketch2idol.core.data.faces import head, shapes
from sketch2idol.core.data.faces.canvas import SHIFT, fixed_point
from sketch2idol.core.data.faces.layout import Layout
from sketch2idol.core.data.faces.mouth import mouth_shape
from sketch2idol.core.data.faces.render import CANVAS_SIDE
from sketch2idol.core.geometry import check_size

#: One pixel of a 256 picture, in image units: widths and wobble are given in these.
PX = 1.0 / 256
#: Side of the region map the silhouettes are traced on.
REGION_SIDE = 512
#: Ink values on the paper.
INK, PAPER = 0, 255

EYE_DRAWINGS = ("almond", "lid", "oval", "dot", "anime")
NOSE_DRAWINGS = ("none", "line", "hook", "dots", "tip")
MOUTH_DRAWINGS = ("none", "line", "lips")
#: Parts drawn or left out per drawing. fringe: the hair's edge across the face; full_oval:
#: the face oval drawn right through the hair (a beginner's order of drawing).
OPTIONAL_PARTS = ("brows", "ears", "neck", "shoulders", "fringe", "full_oval")


@dataclass(frozen=True)
class CasualStyle:
    """How one kind of person draws: ranges and weights `sample_casual` draws from."""

    width: tuple[float, float]  # pen width, px at 256
    wobble: tuple[float, float]  # amplitude of the pen's wobble, px at 256
    eyes: dict[str, float]  # EYE_DRAWINGS -> weight
    nose: dict[str, float]  # NOSE_DRAWINGS -> weight
    mouth: dict[str, float]  # MOUTH_DRAWINGS -> weight
    parts: dict[str, float]  # OPTIONAL_PARTS -> probability it is drawn
    strands: tuple[int, int]  # number of hair strands, inclusive range
    repeat: float  # chance that a stroke is gone over twice
    gap: float  # chance that a stroke is broken in two


STYLES = {
    # The ten-second drawing: an oval through the hair, simple eyes, a line nose.
    "doodle": CasualStyle(
        width=(2.0, 3.5), wobble=(0.8, 1.8),
        eyes={"oval": 3, "dot": 2, "almond": 1}, nose={"line": 3, "tip": 1, "hook": 1, "none": 1},
        mouth={"line": 6, "none": 0.3},
        parts={"brows": 0.3, "ears": 0.4, "neck": 0.6, "shoulders": 0.2, "fringe": 0.3,
               "full_oval": 0.9},
        strands=(0, 2), repeat=0.05, gap=0.1),
    # A careful outline: the visible contours, almond eyes with an iris, brows.
    "outline": CasualStyle(
        width=(1.5, 3.0), wobble=(0.3, 1.0),
        eyes={"almond": 4, "lid": 2, "oval": 1},
        nose={"hook": 2, "line": 2, "tip": 1, "dots": 1, "none": 1},
        mouth={"line": 3, "lips": 1.5},
        parts={"brows": 0.8, "ears": 0.6, "neck": 0.8, "shoulders": 0.6, "fringe": 1.0,
               "full_oval": 0.05},
        strands=(0, 3), repeat=0.05, gap=0.1),
    # A thick felt pen: few, bold strokes.
    "marker": CasualStyle(
        width=(4.5, 8.0), wobble=(0.5, 1.5),
        eyes={"dot": 3, "oval": 2, "almond": 1}, nose={"none": 2, "line": 1, "dots": 1},
        mouth={"line": 5, "none": 0.3},
        parts={"brows": 0.3, "ears": 0.2, "neck": 0.4, "shoulders": 0.2, "fringe": 0.6,
               "full_oval": 0.4},
        strands=(0, 1), repeat=0.0, gap=0.05),
    # Manga habits: big eyes with an iris and a highlight, a tiny nose.
    "anime": CasualStyle(
        width=(1.5, 3.0), wobble=(0.2, 0.8),
        eyes={"anime": 1}, nose={"tip": 1, "hook": 1, "dots": 0.5, "none": 1},
        mouth={"line": 3, "lips": 0.5},
        parts={"brows": 0.8, "ears": 0.3, "neck": 0.8, "shoulders": 0.5, "fringe": 1.0,
               "full_oval": 0.0},
        strands=(1, 4), repeat=0.0, gap=0.05),
    # Thin, shaky, searching lines, often gone over twice.
    "sketchy": CasualStyle(
        width=(1.0, 2.0), wobble=(0.8, 1.8),
        eyes={"almond": 2, "oval": 2, "lid": 1, "anime": 0.5},
        nose={"line": 2, "hook": 1, "tip": 1, "none": 1}, mouth={"line": 2, "lips": 1},
        parts={"brows": 0.6, "ears": 0.5, "neck": 0.7, "shoulders": 0.5, "fringe": 0.8,
               "full_oval": 0.4},
        strands=(0, 3), repeat=0.6, gap=0.25),
    # As little as will do: dots for eyes, often no nose, no brows.
    "minimal": CasualStyle(
        width=(1.5, 4.0), wobble=(0.5, 1.5),
        eyes={"dot": 3, "oval": 1, "lid": 1}, nose={"none": 3, "line": 1, "tip": 1},
        mouth={"line": 3, "none": 1},
        parts={"brows": 0.1, "ears": 0.1, "neck": 0.3, "shoulders": 0.05, "fringe": 0.5,
               "full_oval": 0.5},
        strands=(0, 0), repeat=0.0, gap=0.1),
}

# Largest whole-drawing shift (px at 256, per axis) and scale change.
MAX_SHIFT_PX = 3.0
MAX_SCALE = 0.04
#: How far a drawing that draws the hair close round the face ("hair_hug" in its choices,
#: set by `data synth --hair-hug-prob`) pulls the hair's lines in towards the face's contour
#: (0: as rendered, 1: on it); see _hugged.
HAIR_HUG_RANGE = (0.4, 0.9)
# How much taller than the render's lips casually drawn lips are.
LIPS_FULLER = 1.7
# Each eye's own jitter: position (px at 256, sd) and size (relative, sd).
EYE_JITTER_PX = 0.6
EYE_SIZE_JITTER = 0.03


class _Region(IntEnum):
    """What the region map holds per pixel: the visible part, as far as silhouettes go."""

    BACKGROUND = 0
    FACE = 1
    NECK = 2  # neck and chest skin
    EARS = 3
    HAIR = 4  # with the hair ties
    CLOTHES = 5


@dataclass(frozen=True)
class _Stroke:
    """One thing the pen does: a line along `points`, or a filled shape (image units)."""

    points: np.ndarray
    weight: float = 1.0  # times the pen's width
    closed: bool = False
    filled: bool = False
    ink: int = INK  # PAPER for a highlight painted over ink


# ---------------------------------------------------------------- sampling


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def sample_casual(rng: np.random.Generator, style: str | None = None) -> dict:
    """The choices of one casual drawing (plain JSON data); `style` forces a named style."""
    name = style if style is not None else _pick(rng, {n: 1.0 for n in STYLES})
    if name not in STYLES:
        raise ValueError(f"unknown casual style {name!r}; choose one of {sorted(STYLES)}")
    spec = STYLES[name]
    casual = {
        "style": name,
        "seed": int(rng.integers(0, 2**31 - 1)),
        "width": round(float(rng.uniform(*spec.width)), 2),
        "wobble": round(float(rng.uniform(*spec.wobble)), 2),
        "eyes": _pick(rng, spec.eyes),
        "nose": _pick(rng, spec.nose),
        "mouth": _pick(rng, spec.mouth),
        "strands": int(rng.integers(spec.strands[0], spec.strands[1] + 1)),
        "repeat": spec.repeat,
        "gap": spec.gap,
        "shift": [round(float(np.clip(rng.normal(0.0, MAX_SHIFT_PX / 2), -MAX_SHIFT_PX,
                                      MAX_SHIFT_PX)), 2) for _ in range(2)],
        "scale": round(float(rng.uniform(1.0 - MAX_SCALE, 1.0 + MAX_SCALE)), 3),
    }
    for part in OPTIONAL_PARTS:
        casual[part] = bool(rng.random() < spec.parts[part])
    # The face's edge against the hair is drawn one way or the other.
    casual["fringe"] = casual["fringe"] or not casual["full_oval"]
    return casual


# ---------------------------------------------------------------- the face's geometry


@dataclass(frozen=True)
class _Scene:
    params: dict
    layout: Layout
    face: head.FaceShape
    hair: hair_parts.HairShape
    regions: np.ndarray  # uint8 [REGION_SIDE, REGION_SIDE] of _Region


def _paint(regions: np.ndarray, polygons, region: _Region) -> None:
    for polygon in polygons:  # one at a time: fillPoly would XOR overlapping polygons
        cv2.fillPoly(regions, [fixed_point(polygon, REGION_SIDE)], int(region), cv2.LINE_8,
                     SHIFT)


def _region_map(params: dict, layout: Layout, face: head.FaceShape,
                hair: hair_parts.HairShape, ears: bool) -> np.ndarray:
    """The visible parts, painted back to front in the renderer's order."""
    regions = np.zeros((REGION_SIDE, REGION_SIDE), np.uint8)
    _paint(regions, [*hair.back, *hair.ties], _Region.HAIR)
    _paint(regions, [head.body_outline(params["face"], params["clothes"], layout)],
           _Region.NECK)
    _paint(regions, [head.clothes_polygon(params["clothes"], params["face"], layout)],
           _Region.CLOTHES)
    if ears:
        _paint(regions, [outline for outline, _ in head.ear_outlines(face, layout)],
               _Region.EARS)
    _paint(regions, [face.contour], _Region.FACE)
    _paint(regions, [hair.front, *hair.tufts], _Region.HAIR)
    return regions


def _scene(params: dict, casual: dict) -> _Scene:
    layout = Layout.from_params(params)
    face = head.face_shape(params["face"], layout)
    hair = hair_parts.hair_shape(params["hair"], params["face"], face, layout)
    # Ears left out of the drawing are left out of the silhouettes too: the hair's and the
    # face's lines then run where a person who skips the ears draws them.
    ears = params["face"]["ears"] and casual["ears"]
    return _Scene(params, layout, face, hair, _region_map(params, layout, face, hair, ears))


def _region_at(regions: np.ndarray, points: np.ndarray) -> np.ndarray:
    idx = np.clip(np.floor(np.asarray(points) * REGION_SIDE).astype(int), 0, REGION_SIDE - 1)
    return regions[idx[:, 1], idx[:, 0]]


# ---------------------------------------------------------------- polylines


def _runs(points: np.ndarray, keep: np.ndarray, closed: bool) -> list[np.ndarray]:
    """The stretches of `points` where `keep` holds (joined across the end if closed)."""
    if keep.all():
        return [np.concatenate([points, points[:1]]) if closed else points]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    runs = [points[a:b] for a, b in zip(edges[::2], edges[1::2])]
    if closed and keep[0] and keep[-1] and len(runs) > 1:
        runs = [np.concatenate([runs[-1], runs[0]])] + runs[1:-1]
    return [run for run in runs if len(run) >= 2]


def _length(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def _smooth_closed(points: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along a closed polyline (sigma in points)."""
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([points[-radius:], points, points[:radius]])
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in (0, 1)], axis=1)


def _across(regions: np.ndarray, pixels: np.ndarray, region: _Region) -> np.ndarray:
    """Per edge pixel [N, 2] (x, y): the most common other region in its 5x5 neighbourhood."""
    steps = np.arange(-2, 3)
    ys = np.clip(pixels[:, 1, None, None] + steps[None, :, None], 0, REGION_SIDE - 1)
    xs = np.clip(pixels[:, 0, None, None] + steps[None, None, :], 0, REGION_SIDE - 1)
    patch = regions[ys, xs].reshape(len(pixels), -1)
    slots = np.arange(len(pixels))[:, None] * len(_Region) + patch
    counts = np.bincount(slots.ravel(), minlength=len(pixels) * len(_Region))
    counts = counts.reshape(len(pixels), len(_Region))
    counts[:, int(region)] = -1
    return counts.argmax(axis=1)


def _boundary(regions: np.ndarray, region: _Region, drawn: set) -> list[np.ndarray]:
    """Smoothed edges of `region` where the region across the edge is in `drawn`.

    The edge where a region leaves the picture is never drawn.
    """
    mask = (regions == region).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    runs = []
    for contour in contours:
        pixels = contour[:, 0, :]
        if len(pixels) < 16:
            continue
        on_border = (pixels.min(axis=1) <= 0) | (pixels.max(axis=1) >= REGION_SIDE - 1)
        keep = np.isin(_across(regions, pixels, region), list(drawn)) & ~on_border
        smooth = (_smooth_closed(pixels.astype(np.float64), 2.5) + 0.5) / REGION_SIDE
        runs += [run[::2] for run in _runs(smooth, keep, closed=True)
                 if _length(run) > 4 * PX]
    return runs


# ---------------------------------------------------------------- the parts


def _face_strokes(scene: _Scene, casual: dict, rng: np.random.Generator) -> list[_Stroke]:
    contour = scene.face.contour
    if casual["full_oval"]:
        return [_Stroke(contour, closed=True)]
    visible = _region_at(scene.regions, contour) != _Region.HAIR
    return [_Stroke(run) for run in _runs(contour, visible, closed=True)
            if _length(run) > 3 * PX]


def _hair_strokes(scene: _Scene, casual: dict, rng: np.random.Generator) -> list[_Stroke]:
    drawn = {_Region.BACKGROUND, _Region.NECK}
    if casual["fringe"]:
        drawn.add(_Region.FACE)
    if casual["shoulders"]:
        drawn.add(_Region.CLOTHES)
    strokes = [_Stroke(run) for run in _boundary(scene.regions, _Region.HAIR, drawn)]
    strands = scene.hair.strands
    count = min(casual["strands"], len(strands))
    for i in rng.choice(len(strands), size=count, replace=False) if count else []:
        strokes.append(_Stroke(strands[int(i)][0], weight=0.7))
    hug = casual.get("hair_hug", 0.0)
    if hug:
        strokes = [_Stroke(_hugged(scene, stroke.points, hug), stroke.weight) for stroke in strokes]
    return strokes


def _hugged(scene: _Scene, points: np.ndarray, hug: float) -> np.ndarray:
    """Hair lines outside the face pulled `hug` of the way in towards the face's contour.

    A person draws hair as lines close round the face, wherever the hair really falls:
    below the eye line each point moves sideways towards the face's edge at its height (the
    jaw's, below the jaw), so long hair keeps its length; above it, towards the contour
    along the ray from the eye line's middle, so the crown comes down onto the head. Lines
    on or inside the face (the fringe, the hair's edge against the neck) stay where they are.
    """
    layout, face = scene.layout, scene.face
    out = points.copy()
    y = points[:, 1] - layout.eye_y
    offset = points[:, 0] - layout.cx
    edge = face.half_width(np.clip(y, 0.0, face.jaw_y))
    beside = (y >= 0) & (np.abs(offset) > edge)
    out[beside, 0] = layout.cx + np.sign(offset[beside]) * (
        edge[beside] + (np.abs(offset[beside]) - edge[beside]) * (1.0 - hug))
    above = y < 0
    if above.any():
        centre = np.array([layout.cx, layout.eye_y])
        rays = face.contour - centre
        angles = np.arctan2(rays[:, 1], rays[:, 0])
        order = np.argsort(angles)
        radius = np.hypot(*(points[above] - centre).T)
        angle = np.arctan2(points[above, 1] - centre[1], points[above, 0] - centre[0])
        contour_radius = np.interp(angle, angles[order], np.hypot(*rays[order].T),
                                   period=2 * np.pi)
        outside = radius > contour_radius
        scale = np.where(outside, (contour_radius + (radius - contour_radius) * (1.0 - hug))
                         / np.maximum(radius, 1e-9), 1.0)
        out[above] = centre + (points[above] - centre) * scale[:, None]
    return out


def _ear_strokes(scene: _Scene, casual: dict, rng: np.random.Generator) -> list[_Stroke]:
    if not (casual["ears"] and scene.params["face"]["ears"]):
        return []
    drawn = {_Region.BACKGROUND, _Region.HAIR, _Region.NECK, _Region.CLOTHES}
    strokes = [_Stroke(run, 0.9) for run in _boundary(scene.regions, _Region.EARS, drawn)]
    if rng.random() < 0.5:
        for _, fold in head.ear_outlines(scene.face, scene.layout):
            visible = _region_at(scene.regions, fold) == _Region.EARS
            strokes += [_Stroke(run, 0.7) for run in _runs(fold, visible, closed=False)]
    return strokes


def _body_strokes(scene: _Scene, casual: dict, rng: np.random.Generator) -> list[_Stroke]:
    strokes = []
    if casual["neck"]:
        strokes += [_Stroke(run, 0.9)
                    for run in _boundary(scene.regions, _Region.NECK, {_Region.BACKGROUND})]
    if casual["shoulders"]:
        drawn = {_Region.BACKGROUND, _Region.NECK}
        strokes += [_Stroke(run, 0.9)
                    for run in _boundary(scene.regions, _Region.CLOTHES, drawn)]
    return strokes


class _EyeFrame:
    """One eye's lids in its local frame (x to the outer corner, y down, image units)."""

    def __init__(self, eyes: dict, scale: float) -> None:
        upper, lower = eye_parts.eye_outline(eyes)
        self.upper, self.lower = upper * scale, lower * scale
        self.width = eyes["width"] * scale
        self.iris_radius = self.width * eyes["iris_size"] / 2
        gx, gy = eyes["gaze"]
        self.iris_centre = np.array([gx, gy]) * self.width

    def lids_at(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.interp(x, self.upper[:, 0], self.upper[:, 1]),
                np.interp(x, self.lower[:, 0], self.lower[:, 1]))

    def inside(self, points: np.ndarray, lower_lid: bool = True) -> np.ndarray:
        top, bottom = self.lids_at(points[:, 0])
        inside = (points[:, 1] >= top) & (np.abs(points[:, 0]) <= self.width / 2)
        return inside & (points[:, 1] <= bottom) if lower_lid else inside

    def clamp(self, points: np.ndarray) -> np.ndarray:
        """Points moved inside the opening (a filled shape cut by the lids)."""
        x = np.clip(points[:, 0], self.upper[0, 0], self.upper[-1, 0])
        top, bottom = self.lids_at(x)
        return np.stack([x, np.clip(points[:, 1], top, bottom)], axis=1)


def _iris_strokes(frame: _EyeFrame, radius: float, lower_lid: bool) -> list[_Stroke]:
    circle = shapes.ellipse(frame.iris_centre, (radius * 0.92, radius), samples=48)
    return [_Stroke(run, 0.8) for run in
            _runs(circle, frame.inside(circle, lower_lid), closed=True)]


def _pupil(frame: _EyeFrame, radius: float) -> _Stroke:
    dot = shapes.ellipse(frame.iris_centre, (radius * 0.9, radius), samples=20)
    return _Stroke(frame.clamp(dot), filled=True)


def _local_eye(kind: str, eyes: dict, scale: float, pen: float) -> list[_Stroke]:
    """The strokes of one eye drawn as `kind`, in the eye's local frame (`pen`: its width)."""
    if kind == "anime":
        scale *= 1.12
    frame = _EyeFrame(eyes, scale)
    r = frame.iris_radius
    if kind == "dot":
        radius = max(r * 0.42, pen * 0.8)
        return [_Stroke(shapes.ellipse(frame.iris_centre, (radius, radius * 1.2), samples=20),
                        filled=True)]
    if kind == "oval":
        h = frame.width * eyes["openness"]
        ring = shapes.ellipse((0.0, 0.0), (frame.width * 0.36, h * 0.62), samples=40)
        return [_Stroke(ring, closed=True),
                _Stroke(shapes.ellipse(frame.iris_centre, (r * 0.36, r * 0.42), samples=20),
                        filled=True)]
    upper, lower = frame.upper, frame.lower
    if kind == "almond":
        return [_Stroke(upper, 1.2), _Stroke(lower, 0.8), *_iris_strokes(frame, r, True),
                _pupil(frame, r * 0.45)]
    if kind == "lid":
        return [_Stroke(upper, 1.5), _Stroke(lower[len(lower) // 2:], 0.7),
                *_iris_strokes(frame, r, False), _pupil(frame, r * 0.5)]
    # anime: a heavy upper lid with a flick, a short lower lid, a big iris with a highlight
    tail = upper[-1] + np.array([frame.width * 0.1, -frame.width * 0.06])
    highlight = frame.iris_centre + [-r * 0.3, -r * 0.35]
    return [_Stroke(np.concatenate([upper, [tail]]), 2.0),
            _Stroke(lower[len(lower) * 2 // 5:], 0.6), *_iris_strokes(frame, r * 1.05, True),
            _pupil(frame, r * 0.55),
            _Stroke(shapes.ellipse(highlight, (r * 0.22, r * 0.24), samples=16), filled=True,
                    ink=PAPER)]


def _eye_strokes(scene: _Scene, casual: dict, rng: np.random.Generator) -> list[_Stroke]:
    eyes = scene.params["eyes"]
    strokes = []
    for side, centre in ((1.0, scene.layout.right_eye), (-1.0, scene.layout.left_eye)):
        moved = np.asarray(centre) + rng.normal(0.0, EYE_JITTER_PX * PX, 2)
        scale = 1.0 + rng.normal(0.0, EYE_SIZE_JITTER)
        for stroke in _local_eye(casual["eyes"], eyes, scale, casual["width"] * PX):
            placed = eye_parts.eye_to_image(stroke.points, eyes, side, moved)
            strokes.append(_Stroke(placed, stroke.weight, stroke.closed, stroke.filled,
                                   stroke.ink))
    return strokes


def _brow_strokes(scene: _Scene, casual: dict, rng: np.random.Generator) -> list[_Stroke]:
    if not casual["brows"]:
        return []
    curve = eye_parts.brow_curve(scene.params["brows"], scene.params["eyes"], scene.layout)
    return [_Stroke(curve, 1.2), _Stroke(shapes.mirror_x(curve, scene.layout.cx), 1.2)]


# Nose drawings around the tip, in units of the nose's size; x > 0 on the shadow side.
_NOSES = {
    "line": [(0.011, -0.052), (0.01, -0.025), (0.005, 0.002)],
    "hook": [(0.011, -0.036), (0.01, -0.01), (0.005, 0.004), (-0.011, 0.005)],
    "tip": [(-0.016, -0.005), (0.0, 0.004), (0.016, -0.005)],
}


def _nose_strokes(scene: _Scene, casual: dict, rng: np.random.Generator) -> list[_Stroke]:
    nose, kind = scene.params["nose"], casual["nose"]
    k = nose["size"]
    side = -1.0 if np.sin(np.radians(scene.params["light"]["angle"])) > 0 else 1.0
    tip = np.array([scene.layout.cx, scene.layout.nose_y])
    if kind == "dots":
        radius = max(0.0035 * k, casual["width"] * PX * 0.55)
        return [_Stroke(shapes.ellipse(tip + [s * 0.01 * k, 0.002 * k], (radius, radius * 0.8),
                                       samples=12), filled=True) for s in (-1.0, 1.0)]
    if kind not in _NOSES:
        return []
    points = shapes.catmull_rom(np.asarray(_NOSES[kind]) * [side * k, k] + tip, 6)
    return [_Stroke(points, 0.8)]


def _mouth_strokes(scene: _Scene, casual: dict, rng: np.random.Generator) -> list[_Stroke]:
    mouth, kind = scene.params["mouth"], casual["mouth"]
    if kind == "none":
        return []
    shape = mouth_shape(mouth, scene.layout)
    opening = np.concatenate([shape.line, shape.lower_top[::-1]]) + shape.origin
    if kind == "lips":  # drawn fuller than they are: a pen's width is a lip's height
        fuller = [1.0, LIPS_FULLER]
        return [_Stroke(shape.upper * fuller + shape.origin, 0.8, closed=True),
                _Stroke(shape.lower * fuller + shape.origin, 0.8, closed=True)]
    if mouth["open"] > 0:
        return [_Stroke(opening, 0.9, closed=True)]
    line = shape.line
    if mouth["shape"] == "smile":  # the little upturns past the corners, as in the render
        end = np.array([[-mouth["width"] / 2 - 0.006, mouth["curve"] - 0.004]])
        line = np.concatenate([end, line, end * [-1, 1]])
    return [_Stroke(line + shape.origin, 0.9)]


#: The parts of a drawing, in the order a person draws them: name -> its strokes.
PARTS = {"face": _face_strokes, "hair": _hair_strokes, "ears": _ear_strokes,
         "body": _body_strokes, "eyes": _eye_strokes, "brows": _brow_strokes,
         "nose": _nose_strokes, "mouth": _mouth_strokes}


# ---------------------------------------------------------------- the pen

#: Spacing of the points along a pen stroke.
STEP = 0.75 * PX


def _resample(points: np.ndarray, step: float) -> np.ndarray:
    """The polyline with its points `step` apart along its length."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(seg)])
    if along[-1] <= step:
        return points[[0, -1]] if along[-1] > 0 else points[:1]
    at = np.linspace(0.0, along[-1], int(along[-1] / step) + 1)
    return np.stack([np.interp(at, along, points[:, k]) for k in (0, 1)], axis=1)


def _wobble(points: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Shift points sideways by two smooth waves: a slow drift and a faster tremor."""
    if len(points) < 3 or amplitude <= 0:
        return points
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0),
                                                              axis=1))]) / PX
    offset = np.zeros(len(points))
    for wavelength, share in ((rng.uniform(40.0, 120.0), 1.0), (rng.uniform(15.0, 35.0), 0.15)):
        offset += share * np.sin(2 * np.pi * along / wavelength + rng.uniform(0, 2 * np.pi))
    return points + shapes.normals(points) * (amplitude * offset)[:, None]


def _overshoot(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lengthen or shorten each end a little along its direction (px at 256: -2..3)."""
    if len(points) < 3:
        return points
    out = points.copy()
    for end, inner in ((0, 1), (-1, -2)):
        direction = points[end] - points[inner]
        norm = np.hypot(*direction)
        if norm > 0:
            out[end] = points[end] + direction / norm * rng.uniform(-2.0, 3.0) * PX
    return out


def _start_anywhere(loop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A closed loop as a person draws it: from any point, ending short of it or past it."""
    loop = np.roll(loop, -int(rng.integers(len(loop))), axis=0)
    extra = int(len(loop) * rng.uniform(-0.04, 0.08))
    return loop[: len(loop) + extra] if extra < 0 else np.concatenate([loop, loop[:extra + 1]])


class _Pen:
    """Draws strokes on supersampled paper, with the habits of a person's hand."""

    def __init__(self, size: int, casual: dict) -> None:
        self.size, self.casual = size, casual
        self.px = CANVAS_SIDE
        self.paper = np.full((self.px, self.px), PAPER, np.uint8)

    def draw(self, stroke: _Stroke, rng: np.random.Generator) -> None:
        if stroke.filled:
            self._fill(stroke.points, stroke.ink)
            return
        width = max(self.casual["width"] * stroke.weight, 1.0) * PX
        passes = 2 if rng.random() < self.casual["repeat"] else 1
        path = _start_anywhere(stroke.points, rng) if stroke.closed else stroke.points
        path = _resample(path, STEP)
        for k in range(passes):
            for piece in self._break(path, rng):
                self._line(piece, width * (1.0 if k == 0 else 0.7), stroke.ink, rng)

    def _break(self, path: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        """The path, or (by chance `gap`) the path broken in two a few pixels apart."""
        if len(path) < 24 or rng.random() >= self.casual["gap"]:
            return [path]
        cut = int(len(path) * rng.uniform(0.3, 0.7))
        gap = int(rng.uniform(1.5, 4.0) * PX / STEP)
        return [path[:cut], path[cut + gap:]]

    def _line(self, points: np.ndarray, width: float, ink: int,
              rng: np.random.Generator) -> None:
        if len(points) < 2:
            return
        points = _overshoot(_wobble(points, self.casual["wobble"] * PX, rng), rng)
        start, end = rng.uniform(0.3, 0.7, 2)
        pressure = shapes.taper_profile(len(points), float(rng.uniform(0.3, 0.7)), start, end)
        widths = width * pressure
        self._fill(shapes.stroke(points, widths), ink)

    def _fill(self, polygon: np.ndarray, ink: int) -> None:
        cv2.fillPoly(self.paper, [fixed_point(polygon, self.px)], int(ink), cv2.LINE_8, SHIFT)

    def picture(self) -> np.ndarray:
        return cv2.resize(self.paper, (self.size, self.size), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------- the drawing


def _placed(stroke: _Stroke, anchor: np.ndarray, scale: float, shift: np.ndarray) -> _Stroke:
    points = anchor + (stroke.points - anchor) * scale + shift
    return _Stroke(points, stroke.weight, stroke.closed, stroke.filled, stroke.ink)


def draw_casual(params: dict, size: int, casual: dict | np.random.Generator,
                parts: tuple[str, ...] | None = None) -> np.ndarray:
    """The face `params` drawn casually: uint8 [size, size], black lines on white.

    `casual` is a dict from `sample_casual` (the same dict always draws the same lines), or
    a random Generator to sample one from. `parts` (names of PARTS) draws only those parts,
    with the very strokes they have in the whole drawing: each part has its own random
    stream, SeedSequence([casual seed, its place in PARTS]).
    """
    check_size(size)
    if isinstance(casual, np.random.Generator):
        casual = sample_casual(casual)
    unknown = set(parts or ()) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {list(PARTS)}")
    scene = _scene(params, casual)
    anchor = np.array([scene.layout.cx, scene.layout.eye_y + 0.1])
    shift = np.asarray(casual["shift"], dtype=np.float64) * PX
    pen = _Pen(size, casual)
    for number, (name, strokes_of) in enumerate(PARTS.items()):
        if parts is None or name in parts:
            rng = np.random.default_rng([casual["seed"], number])
            for stroke in strokes_of(scene, casual, rng):
                pen.draw(_placed(stroke, anchor, casual["scale"], shift), rng)
    return pen.picture()
