"""Hair: the mass behind the head (long, bob, tails) and the front hair (cap, fringe, side
locks) with its line art and a few strand lines.

The front hair is one polygon: the outer silhouette over the head and down the outside of
the side locks, and the inner edge that runs up the inside of one lock, across the
forehead as the fringe, and down the other lock. Clump placement comes from the hair's
own `seed`, so the same parameters always draw the same hair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sketch2idol.core.data.faces import palette, shapes
from sketch2idol.core.data.faces.canvas import Canvas, Material
from sketch2idol.core.data.faces.head import OUTLINE, FaceShape, outline_colour
from sketch2idol.core.data.faces.labels import Label
from sketch2idol.core.data.faces.layout import Layout

SKULL_CENTRE = -0.06  # height of the hair's widest point, relative to the eye line
THIN_LOCKS = ("ponytail", "twintails")


@dataclass
class HairShape:
    """Hair geometry in absolute normalised coordinates."""

    front: np.ndarray  # polygon of the hair in front of the head
    edges: list = field(default_factory=list)  # polylines of its line art
    strands: list = field(default_factory=list)  # interior strand lines
    back: list = field(default_factory=list)  # polygons behind the head
    back_edges: list = field(default_factory=list)
    ties: list = field(default_factory=list)  # hair ties (polygons)
    sheen: np.ndarray | None = None  # centre line of the highlight band
    tufts: list = field(default_factory=list)  # polygons filled like the front hair


def _join(segments) -> np.ndarray:
    """Concatenate polylines that share their end points."""
    out = [segments[0]]
    out += [s[1:] for s in segments[1:]]
    return np.concatenate(out)


class _Geometry:
    """Measurements shared by the parts of one head of hair (relative coordinates)."""

    def __init__(self, hair: dict, face: dict, shape: FaceShape, rng: np.random.Generator):
        self.hair, self.face, self.shape, self.rng = hair, face, shape, rng
        self.style = hair["style"]
        tight = self.style in THIN_LOCKS
        vol = hair["volume"] * (0.5 if tight else 1.0)
        self.top = -(hair["crown"] + vol)
        self.hw = max(face["temple"], face["cheek"]) + 0.022 + vol
        self.overlap = rng.uniform(0.006, 0.026)
        self.drift = rng.uniform(0.0, 0.12)
        self.lock_y = hair["lock_length"]
        depth = hair["fringe_depth"]
        self.fringe_y = -depth
        self.join_y = -depth - (0.006 if hair["fringe"] == "blunt" else 0.022)
        if hair["fringe"] == "open":
            self.join_y = -0.13
        count = hair["spikes"]  # pointed tufts on the silhouette: (angle, half-width, height)
        self.spikes = np.stack([rng.uniform(0.08, 0.92, count) * np.pi,
                                rng.uniform(0.05, 0.11, count),
                                rng.uniform(0.012, 0.03, count)], axis=1)

    def inner_x(self, y) -> np.ndarray:
        """Inner edge of the right side lock at heights `y`."""
        y = np.asarray(y, dtype=np.float64)
        hold = min(self.shape.jaw_y - 0.03, 0.16)
        at_hold = self.shape.half_width(hold) - self.overlap
        x = np.where(y <= hold, self.shape.half_width(np.minimum(y, hold)) - self.overlap,
                     at_hold - (y - hold) * self.drift)
        return np.maximum(x, self.face["neck"] + 0.02)

    def outer_x(self, y) -> np.ndarray:
        """Outer edge of the right side lock at heights `y` (below the skull centre)."""
        y = np.asarray(y, dtype=np.float64)
        t = np.clip((y - SKULL_CENTRE) / max(self.lock_y - SKULL_CENTRE, 1e-3), 0, 1)
        if self.style in THIN_LOCKS:
            return np.maximum(self.inner_x(y) + 0.028, self.hw - 0.2 * t)
        if self.style == "short":
            return self.hw + (self.inner_x(y) + 0.02 - self.hw) * t ** 1.5
        swell = 0.012 * np.sin(np.pi * t)
        if self.style == "bob":
            return self.hw + swell * 1.5 + self.hair["flare"] * 0.4 * t - 0.03 * t ** 4
        return self.hw + self.hair["flare"] * np.sin(t * np.pi / 2) + swell


def _arc(g: _Geometry, scale: float = 1.0, spikes: bool = False) -> np.ndarray:
    """The silhouette over the head, right (at the skull centre) to left."""
    phi = np.linspace(0.0, np.pi, 91 if spikes and len(g.spikes) else 41)
    c, s = np.cos(phi), np.sin(phi)
    e = 2.0 / g.hair["roundness"]
    x = g.hw * scale * np.sign(c) * np.abs(c) ** e
    y = SKULL_CENTRE + (g.top - SKULL_CENTRE) * scale * np.abs(s) ** e
    if spikes:
        push = np.zeros_like(phi)
        for angle, half_width, height in g.spikes:
            push = np.maximum(push, height * np.clip(1 - np.abs(phi - angle) / half_width, 0, 1))
        x, y = x + push * c, y - push * s
    return np.stack([x, y], axis=1)


def _lock(g: _Geometry) -> tuple[list, list]:
    """Right side lock: (inner edge top->bottom, bottom + outer edge bottom->top) segments."""
    rng = g.rng
    bottom = g.lock_y
    ys = np.linspace(g.join_y, bottom - 0.015, max(3, int((bottom - g.join_y) / 0.06) + 2))
    inner = np.stack([g.inner_x(ys), ys], axis=1)
    inner = shapes.catmull_rom(inner, 5)
    outer_ys = np.linspace(SKULL_CENTRE, bottom - 0.015, 5)
    outer = np.stack([g.outer_x(outer_ys), outer_ys], axis=1)
    outer = shapes.catmull_rom(outer, 5)[::-1]  # bottom -> top
    x_in, x_out = inner[-1, 0], outer[0, 0]
    if bottom - SKULL_CENTRE > 0.2 and g.style not in (*THIN_LOCKS, "bob"):
        t1 = (x_in + (x_out - x_in) * 0.35, bottom + rng.uniform(0.015, 0.035))
        valley = (x_in + (x_out - x_in) * 0.6, bottom - rng.uniform(0.01, 0.025))
        t2 = (x_in + (x_out - x_in) * 0.85, bottom + rng.uniform(-0.005, 0.015))
        tips = [shapes.bulge(inner[-1], t1, 0.15, 6), shapes.bulge(t1, valley, 0.12, 5),
                shapes.bulge(valley, t2, 0.15, 5), shapes.bulge(t2, outer[0], 0.12, 5)]
    else:
        tip = ((x_in + x_out) / 2 - 0.004, bottom + 0.015)
        tips = [shapes.bulge(inner[-1], tip, 0.15, 6), shapes.bulge(tip, outer[0], 0.22, 6)]
    return [inner], tips + [outer]


def _fringe(g: _Geometry) -> tuple[list, list]:
    """Fringe edge segments from the left join to the right join, and its valley points."""
    rng, hair = g.rng, g.hair
    xj = float(g.inner_x(g.join_y))
    left, right = np.array([-xj, g.join_y]), np.array([xj, g.join_y])
    kind = hair["fringe"]
    part = hair["part"]
    if kind == "open":
        line = shapes.catmull_rom([left, (-xj * 0.62, -0.205), (part * 0.5, -0.24),
                                   (xj * 0.62, -0.205), right], 8)
        return [line], [line[len(line) * k // 8] for k in range(1, 8)]
    if kind == "curtain":
        apex = np.array([part * 0.6, -0.2 - rng.uniform(0.0, 0.03)])
        tl = np.array([-xj * rng.uniform(0.55, 0.7), g.fringe_y + rng.uniform(-0.005, 0.01)])
        tr = np.array([xj * rng.uniform(0.55, 0.7), g.fringe_y + rng.uniform(-0.005, 0.01)])
        segments = [shapes.bulge(left, tl, 0.08), shapes.bulge(tl, apex, 0.18, 12),
                    shapes.bulge(apex, tr, 0.18, 12), shapes.bulge(tr, right, 0.08)]
        return segments, [apex, (tl + apex) / 2, (tr + apex) / 2]
    keys, valleys = [left], []
    if kind == "blunt":
        # A straight cut, gently curved, with a few small notches.
        n = hair["clumps"] // 2
        notches = np.sort(rng.uniform(-0.75, 0.75, n)) * xj
        notches = notches[np.concatenate([[True], np.diff(notches) > 0.04])]
        sag = lambda x: g.fringe_y + 0.01 * (1 - (x / xj) ** 2)  # noqa: E731
        for x in notches:
            depth = rng.uniform(0.012, 0.03)
            keys += [(x - 0.01, sag(x - 0.01)), (x + rng.uniform(-0.004, 0.004), sag(x) - depth),
                     (x + 0.01, sag(x + 0.01))]
            valleys.append(np.array(keys[-2]))
        keys.append((xj * 0.9, sag(xj * 0.9)))
        bends = [0.02] * (len(keys))
    elif kind == "clumps":
        n = hair["clumps"]
        step = 2 * xj / n
        sweep = rng.uniform(-0.3, 0.3) * step
        tips = []
        for i in range(n):
            x = -xj + (i + 0.5) * step + rng.uniform(-0.2, 0.2) * step + sweep
            x = float(np.clip(x, -xj + 0.3 * step, xj - 0.3 * step))
            tips.append((x, g.fringe_y + 0.012 * (1 - (x / xj) ** 2)
                         + rng.uniform(-0.012, 0.016)))
        for i, tip in enumerate(tips):
            keys.append(tip)
            if i < n - 1:
                x = (tip[0] + tips[i + 1][0]) / 2 + rng.uniform(-0.1, 0.1) * step
                v = (x, min(tip[1], tips[i + 1][1]) - rng.uniform(0.025, 0.055))
                keys.append(v)
                valleys.append(np.array(v))
        bends = [-rng.uniform(0.06, 0.2) for _ in keys]
    else:  # swept: high on the parting side, tips pointing away from it
        side = 1.0 if part >= 0 else -1.0
        n = max(3, hair["clumps"] - 2)
        points = []
        for i in range(n):
            t = (i + 0.5) / n
            x = -xj + 2 * xj * t
            rise = 0.09 * (side * x / xj + 1) / 2
            tip_y = g.fringe_y + 0.012 - rise + rng.uniform(-0.006, 0.006)
            points.append((x - side * 0.035, tip_y))
            if i < n - 1:
                v = (x + side * 0.012, tip_y - rng.uniform(0.035, 0.06))
                points.append(v)
                valleys.append(np.array(v))
        keys += sorted(points)
        bends = [side * 0.14 if i % 2 else -0.1 for i in range(len(keys))]
    keys.append(right)
    keys = np.asarray(keys, dtype=np.float64)
    segments = [shapes.bulge(keys[i], keys[i + 1], bends[i], 6) for i in range(len(keys) - 1)]
    return segments, valleys


def _strand(start, end, bend: float, length: float, width: float):
    """A tapered strand line from `start` towards `end`, covering `length` of the way."""
    curve = shapes.bulge(start, end, bend, 16)
    curve = curve[: max(3, int(len(curve) * length))]
    return curve, width * shapes.taper(len(curve), 0.0, 1.0, 0.0)


def _back(g: _Geometry) -> tuple[list, list, list]:
    """Polygons, edge lines and ties of the hair behind the head (relative)."""
    rng, style = g.rng, g.style
    flare = g.hair["flare"]
    arc = _arc(g, 1.01)
    polygons, edges, ties = [], [], []
    if style in ("long", "medium", "bob"):
        if style == "long":
            bottom = 0.75
        elif style == "medium":
            bottom = g.lock_y + rng.uniform(0.0, 0.05)
        else:
            bottom = g.lock_y + 0.005
        spread = {"long": 0.045, "medium": 0.035, "bob": 0.012}[style]
        side = np.array([(g.hw, SKULL_CENTRE), (g.hw + spread * 0.4 + flare * 0.6, 0.1),
                         (g.hw + spread + flare, bottom - 0.08), (g.hw + spread + flare,
                                                                  bottom)])
        side = shapes.catmull_rom(side, 6)
        if style == "bob":
            curl = shapes.bulge(side[-1], (g.hw - 0.05, bottom + 0.008), -0.3, 8)
            across = np.array([(g.face["neck"], bottom + 0.005)])
            side = np.concatenate([side, curl[1:], across])
        elif style == "medium":
            x0 = side[-1, 0]
            tip1 = (x0 - 0.04, bottom + rng.uniform(0.01, 0.03))
            tip2 = (x0 - 0.12, bottom + rng.uniform(0.0, 0.025))
            segments = [side, shapes.bulge(side[-1], tip1, -0.2, 6),
                        shapes.bulge(tip1, (x0 - 0.08, bottom - 0.02), -0.15, 5),
                        shapes.bulge((x0 - 0.08, bottom - 0.02), tip2, -0.15, 5),
                        shapes.bulge(tip2, (0.0, bottom - 0.02), -0.1, 5)]
            side = _join(segments)
        right = side  # top -> bottom, outside -> centre
        polygon = np.concatenate([arc, right * [-1, 1], right[::-1]])
        polygons.append(polygon)
        edges += [right, right * [-1, 1]]
    elif style in THIN_LOCKS:
        sides = [1.0, -1.0] if style == "twintails" else [1.0 if rng.random() < 0.5 else -1.0]
        for s in sides:
            if style == "ponytail":
                tie = np.array([g.hw - 0.03, -0.21])
                centre = [tie, (g.hw + 0.07, -0.2), (g.hw + 0.11, -0.04),
                          (g.hw + 0.09, 0.18), (g.hw + 0.03, 0.36 + rng.uniform(0, 0.12))]
                widest = rng.uniform(0.1, 0.14)
            else:
                tie = np.array([g.hw - 0.025, -0.15])
                centre = [tie, (g.hw + 0.08, -0.13), (g.hw + 0.12, 0.08),
                          (g.hw + 0.1, 0.34), (g.hw + 0.05, 0.52 + rng.uniform(0, 0.12))]
                widest = rng.uniform(0.1, 0.13)
            centre = shapes.catmull_rom(np.asarray(centre), 8)
            widths = widest * shapes.taper(len(centre), 0.35, 0.15, 0.0)
            tail = shapes.stroke(centre, widths)
            n = len(centre)
            polygons.append(tail * [s, 1])
            edges.append(tail[:n] * [s, 1])
            edges.append(tail[n:] * [s, 1])
            normals = shapes.normals(centre)
            for k, offset in enumerate((-0.18, 0.22)):
                lo, hi = n // 5 + 2 * k, n - 4 - 3 * k
                line = centre[lo:hi] + normals[lo:hi] * (widths[lo:hi, None] * offset)
                edges.append(line * [s, 1])
            ties.append(shapes.ellipse(tie * [s, 1], (0.02, 0.03), angle=s * 0.5, samples=20))
    return polygons, edges, ties


def hair_shape(hair: dict, face: dict, shape: FaceShape, layout: Layout) -> HairShape:
    rng = np.random.default_rng(hair["seed"])
    g = _Geometry(hair, face, shape, rng)
    origin = np.array([layout.cx, layout.eye_y])

    inner_r, outer_r = _lock(g)
    fringe, valleys = _fringe(g)
    arc = _arc(g, spikes=True)
    right_down = inner_r + outer_r  # join -> tips -> up the outside
    left_up = [s[::-1] * [-1, 1] for s in reversed(right_down)]  # outside down -> join
    path = right_down + [arc] + left_up + fringe
    front = _join(path)
    edges = [s for s in path]

    crown = np.array([hair["part"], g.top + 0.05])
    strands = []
    count = min(hair["strands"], len(valleys))
    for i in rng.choice(len(valleys), size=count, replace=False) if count else []:
        v = valleys[int(i)]
        strands.append(_strand(v, crown, rng.uniform(-0.25, 0.25), rng.uniform(0.2, 0.45),
                               OUTLINE * 0.85))
    if hair["fringe"] in ("swept", "curtain", "open"):
        strands.append(_strand(crown + [0.0, -0.03], crown + [-np.sign(hair["part"]) * 0.02,
                                                               0.09], 0.1, 1.0, OUTLINE * 0.7))
    if g.lock_y - SKULL_CENTRE > 0.2 and g.style not in THIN_LOCKS:
        ys = np.linspace(SKULL_CENTRE + 0.06, g.lock_y - 0.04, 6)
        mid = np.stack([(g.inner_x(ys) + g.outer_x(ys)) / 2 + 0.004, ys], axis=1)
        line = shapes.catmull_rom(mid, 4)
        strands.append((line, OUTLINE * 0.8 * shapes.taper(len(line), 0.4)))
        strands.append((line * [-1, 1], OUTLINE * 0.8 * shapes.taper(len(line), 0.4)))

    if hair["ahoge"]:  # a tuft standing up from the crown
        lean = 1.0 if rng.random() < 0.5 else -1.0
        base = np.array([hair["part"], g.top + 0.012])
        tuft = shapes.catmull_rom(np.array([base, base + (lean * 0.012, -0.04),
                                            base + (lean * 0.045, -0.055),
                                            base + (lean * 0.06, -0.035)]), 8)
        leaf = shapes.stroke(tuft, 0.016 * shapes.taper(len(tuft), 0.25, 0.7, 0.0))
        edges += [leaf[: len(tuft)], leaf[len(tuft):]]
        tufts = [leaf]
    else:
        tufts = []

    back, back_edges, ties = _back(g)
    band_y = g.top + (g.join_y - g.top) * 0.33
    phi = np.linspace(0.15 * np.pi, 0.85 * np.pi, 15)
    sheen = np.stack([g.hw * 0.8 * np.cos(phi), band_y + 0.07 * (1 - np.sin(phi))], axis=1)
    return HairShape(
        front=front + origin,
        edges=[e + origin for e in edges],
        strands=[(p + origin, w) for p, w in strands],
        back=[p + origin for p in back],
        back_edges=[e + origin for e in back_edges],
        ties=[t + origin for t in ties],
        tufts=[t + origin for t in tufts],
        sheen=sheen + origin,
    )


def _edge_widths(n: int) -> np.ndarray:
    return OUTLINE * shapes.taper(n, 0.5, 0.25, 0.25)


def draw_back(canvas: Canvas, shape: HairShape, hair: dict, accent) -> None:
    rgb = np.array(hair["color"])
    ink = outline_colour(rgb)
    for polygon in shape.back:
        canvas.fill(polygon, rgb, Material.HAIR_BACK, Label.HAIR)
    for edge in shape.back_edges:
        canvas.fill(shapes.stroke(edge, _edge_widths(len(edge))), ink, Material.HAIR_BACK,
                    Label.HAIR)
    for tie in shape.ties:
        canvas.fill(tie, accent, Material.CLOTH, Label.ACCENT)
        canvas.fill(shapes.stroke(np.concatenate([tie, tie[:1]]), OUTLINE * 0.8),
                    outline_colour(accent), Material.CLOTH, Label.ACCENT)


def draw_front(canvas: Canvas, shape: HairShape, hair: dict) -> None:
    rgb = np.array(hair["color"])
    ink = outline_colour(rgb)
    canvas.fill(shape.front, rgb, Material.HAIR, Label.HAIR)
    for tuft in shape.tufts:
        canvas.fill(tuft, rgb, Material.HAIR, Label.HAIR)
    for edge in shape.edges:
        canvas.fill(shapes.stroke(edge, _edge_widths(len(edge))), ink, Material.HAIR,
                    Label.HAIR)
    strand_ink = palette.mix(rgb, ink, 0.8)
    for points, widths in shape.strands:
        canvas.fill(shapes.stroke(points, widths), strand_ink, Material.HAIR, Label.HAIR)
