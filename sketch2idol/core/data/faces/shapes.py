"""Curves and polygons in normalised image coordinates.

Every shape of the renderer is built here in units of the image side: x to the right, y
down, (0, 0) the image's top-left corner and (1, 1) its bottom-right one, so the same
parameters draw the same face at any resolution. Points are float arrays of shape [N, 2].
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np


def catmull_rom(points, samples: int = 8, closed: bool = False) -> np.ndarray:
    """A centripetal Catmull-Rom spline through `points`, `samples` points per segment.

    Centripetal knots keep the curve free of cusps and loops however unevenly the points
    are spaced. Open splines start at the first point and end at the last.
    """
    p = np.asarray(points, dtype=np.float64)
    if closed:
        padded = np.concatenate([p[-1:], p, p[:2]])
        segments = len(p)
    else:
        padded = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
        segments = len(p) - 1
    p0, p1, p2, p3 = (padded[i:i + segments, None, :] for i in range(4))  # [G, 1, 2]
    gaps = np.linalg.norm(np.diff(padded, axis=0), axis=1) ** 0.5 + 1e-9
    d01, d12, d23 = (gaps[i:i + segments, None, None] for i in range(3))
    t0, t1 = 0.0, d01
    t2, t3 = t1 + d12, t1 + d12 + d23
    t = t1 + d12 * (np.arange(samples) / samples)[None, :, None]  # [G, S, 1]
    a1 = ((t1 - t) * p0 + (t - t0) * p1) / (t1 - t0)
    a2 = ((t2 - t) * p1 + (t - t1) * p2) / (t2 - t1)
    a3 = ((t3 - t) * p2 + (t - t2) * p3) / (t3 - t2)
    b1 = ((t2 - t) * a1 + (t - t0) * a2) / (t2 - t0)
    b2 = ((t3 - t) * a2 + (t - t1) * a3) / (t3 - t1)
    curve = (((t2 - t) * b1 + (t - t1) * b2) / (t2 - t1)).reshape(-1, 2)
    return curve if closed else np.concatenate([curve, p[-1:]])


@cache
def _bernstein(degree: int, samples: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, samples + 1)[:, None]
    k = np.arange(degree + 1)[None, :]
    binomial = np.array([math.comb(degree, i) for i in range(degree + 1)], dtype=np.float64)
    return binomial[None, :] * t ** k * (1.0 - t) ** (degree - k)


def bezier(points, samples: int = 16) -> np.ndarray:
    """A Bezier curve (any degree) from its control points: `samples` + 1 points."""
    p = np.asarray(points, dtype=np.float64)
    return _bernstein(len(p) - 1, samples) @ p


def bulge(a, b, amount: float, samples: int = 8) -> np.ndarray:
    """A quadratic arc from `a` to `b` whose middle bows `amount` to the left of a->b."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = b - a
    normal = np.array([d[1], -d[0]])
    control = (a + b) / 2 + normal * amount
    return bezier([a, control, b], samples)


def ellipse(center, radii, angle: float = 0.0, samples: int = 32,
            start: float = 0.0, stop: float = 2 * np.pi) -> np.ndarray:
    """Points on an ellipse (or an arc of it), rotated by `angle` radians."""
    t = np.linspace(start, stop, samples, endpoint=stop - start < 2 * np.pi - 1e-9)
    x, y = radii[0] * np.cos(t), radii[1] * np.sin(t)
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)


def normals(points: np.ndarray) -> np.ndarray:
    """Unit normals of a polyline (to the left of the direction of travel, y down)."""
    d = np.empty_like(points)
    d[1:-1] = points[2:] - points[:-2]
    d[0] = points[1] - points[0]
    d[-1] = points[-1] - points[-2]
    length = np.maximum(np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]), 1e-12)
    n = np.empty_like(d)
    n[:, 0] = d[:, 1] / length
    n[:, 1] = -d[:, 0] / length
    return n


def stroke(points, widths) -> np.ndarray:
    """A filled outline of the polyline `points`, `widths` (scalar or per point) wide."""
    p = np.asarray(points, dtype=np.float64)
    half = np.broadcast_to(np.asarray(widths, dtype=np.float64), (len(p),))[:, None] / 2
    n = normals(p)
    return np.concatenate([p + n * half, (p - n * half)[::-1]])


def taper_profile(count: int, peak: float, start: float, end: float) -> np.ndarray:
    """`taper` without its cache, for profiles that are rarely drawn twice (random ones)."""
    t = np.linspace(0.0, 1.0, count)
    rise = np.clip(t / max(peak, 1e-6), 0.0, 1.0)
    fall = np.clip((1.0 - t) / max(1.0 - peak, 1e-6), 0.0, 1.0)
    rise = start + (1.0 - start) * np.sin(rise * np.pi / 2)
    fall = end + (1.0 - end) * np.sin(fall * np.pi / 2)
    return np.where(t <= peak, rise, fall)


@cache
def _taper(count: int, peak: float, start: float, end: float) -> np.ndarray:
    profile = taper_profile(count, peak, start, end)
    profile.flags.writeable = False
    return profile


def taper(count: int, peak: float = 0.5, start: float = 0.0, end: float = 0.0) -> np.ndarray:
    """Width profile in [0, 1] along a stroke: `start` at the first point, 1 at `peak`
    (a fraction of the length), `end` at the last point, smooth in between."""
    return _taper(int(count), float(peak), float(start), float(end))


def mirror_x(points, axis: float) -> np.ndarray:
    """Reflect points about the vertical line x = axis."""
    p = np.array(points, dtype=np.float64)
    p[:, 0] = 2 * axis - p[:, 0]
    return p


def rotate(points, angle: float, center) -> np.ndarray:
    """Rotate points by `angle` radians (clockwise on screen, y down) about `center`."""
    p = np.asarray(points, dtype=np.float64) - center
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * p[:, 0] - s * p[:, 1], s * p[:, 0] + c * p[:, 1]], axis=1) + center


def interp_x(curve: np.ndarray, y) -> np.ndarray:
    """x of a curve that is monotonic in y, at the heights `y` (clamped at its ends)."""
    order = np.argsort(curve[:, 1], kind="stable")
    return np.interp(y, curve[order, 1], curve[order, 0])
