"""The supersampled drawing surface: colours, a material and a part label per pixel.

Shapes are filled at `ss` times the output resolution with 1/16-pixel vertex precision and
averaged down with INTER_AREA, which anti-aliases every edge. Alongside the colour, every
pixel records which *material* (skin, hair, cloth, ...) is visible there, on a coarser
label map (2x the output resolution); after downsampling each material's coverage is a
soft mask, so lighting can be applied per material at the output resolution (where smooth
fields cost little) while the edges between materials stay anti-aliased.

Every fill also records its part `Label` (labels.py) at the full supersampled resolution,
with the same polygon as the colour, so the label map lines up with the colours exactly;
each output pixel takes the label covering most of its supersamples.
"""

from __future__ import annotations

from contextlib import contextmanager
from enum import IntEnum

import cv2
import numpy as np

from sketch2idol.core.data.faces.labels import Label

#: fillPoly's fractional bits: vertices are placed to 1/16 of a pixel.
SHIFT = 4
_ONE = 1 << SHIFT
#: Supersampling of the material labels relative to the output.
MATERIAL_SS = 2


class Material(IntEnum):
    BACKGROUND = 0
    FACE = 1  # face skin and everything painted on it (nose, lips, brows)
    SKIN = 2  # neck, chest, ears
    HAIR = 3  # the hair in front of the head
    HAIR_BACK = 4  # the hair behind the head and neck
    CLOTH = 5
    EYE = 6  # eyes: not shaded


def colour(rgb) -> tuple[int, int, int]:
    """A colour as cv2 wants it: three ints in 0..255 (channel order as given: RGB)."""
    return tuple(int(min(255, max(0, round(c)))) for c in rgb)


def fixed_point(points, px: int, origin=(0.0, 0.0)) -> np.ndarray:
    """Normalised points -> fillPoly's fixed-point pixel coordinates on a `px`-wide image.

    Pixel i of any resolution covers [i, i + 1) / px, so a normalised coordinate u lands
    at u * px - 0.5 in OpenCV's pixel-centre coordinates.
    """
    p = np.asarray(points, dtype=np.float64) * px - 0.5 - np.asarray(origin)
    return np.round(p * _ONE).astype(np.int32)


class Canvas:
    """A `side` x `side` picture drawn at `ss`x supersampling."""

    def __init__(self, side: int, ss: int, background) -> None:
        self.side, self.ss = side, ss
        self.px = side * ss
        self.rgb = np.empty((self.px, self.px, 3), np.uint8)
        cv2.rectangle(self.rgb, (0, 0), (self.px, self.px), colour(background), -1)
        self.material_px = side * MATERIAL_SS
        self.material = np.zeros((self.material_px, self.material_px), np.uint8)
        self.labels = np.full((self.px, self.px), int(Label.BACKGROUND), np.uint8)

    def fill(self, polygon, rgb, material: Material | None, label: Label) -> None:
        """Fill one polygon (normalised points) with a flat colour and its part label."""
        points = [fixed_point(polygon, self.px)]
        cv2.fillPoly(self.rgb, points, colour(rgb), cv2.LINE_8, SHIFT)
        cv2.fillPoly(self.labels, points, int(label), cv2.LINE_8, SHIFT)
        if material is not None:
            cv2.fillPoly(self.material, [fixed_point(polygon, self.material_px)],
                         int(material), cv2.LINE_8, SHIFT)

    @contextmanager
    def clipped(self, polygon):
        """Paint inside `polygon` only: `with canvas.clipped(poly) as sub: sub.fill(...)`.

        The polygon's own material labels stay; fill it with its material first. Part
        labels follow the fills inside.
        """
        pts = np.asarray(polygon, dtype=np.float64) * self.px - 0.5
        x0, y0 = np.maximum(np.floor(pts.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(pts.max(axis=0)).astype(int) + 2, self.px)
        if x1 <= x0 or y1 <= y0:
            yield _Window(np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), np.uint8), self.px,
                          (0, 0))
            return
        window = _Window(self.rgb[y0:y1, x0:x1].copy(), self.labels[y0:y1, x0:x1].copy(),
                         self.px, (x0, y0))
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [fixed_point(polygon, self.px, (x0, y0))], 1, cv2.LINE_8, SHIFT)
        yield window
        inside = mask.astype(bool)
        self.rgb[y0:y1, x0:x1][inside] = window.rgb[inside]
        self.labels[y0:y1, x0:x1][inside] = window.labels[inside]

    def resolve(self) -> tuple[np.ndarray, dict[Material, np.ndarray]]:
        """Downsample: float32 RGB in [0, 255] and each present material's coverage in [0, 1]."""
        size = (self.side, self.side)
        rgb = cv2.resize(self.rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        coverage = {}
        for m in Material:
            mask = cv2.compare(self.material, int(m), cv2.CMP_EQ)
            if cv2.countNonZero(mask):
                coverage[m] = cv2.resize(mask, size, interpolation=cv2.INTER_AREA).astype(
                    np.float32) * (1.0 / 255.0)
        return rgb, coverage

    def resolve_labels(self) -> np.ndarray:
        """uint8 [side, side]: per output pixel, the label covering most of its supersamples."""
        return majority_labels(self.labels, self.ss)


def majority_labels(labels: np.ndarray, ss: int) -> np.ndarray:
    """Downsample a supersampled label map by `ss`: the most frequent label per block.

    Ties go to the smaller label value. Only blocks holding more than one label (a small
    fraction of the picture: the edges) are counted.
    """
    block = np.ones((ss, ss), np.uint8)
    lowest = cv2.erode(labels, block, anchor=(0, 0))[::ss, ::ss]
    highest = cv2.dilate(labels, block, anchor=(0, 0))[::ss, ::ss]
    ys, xs = np.nonzero(lowest != highest)
    out = lowest.copy()
    if ys.size:
        dy, dx = np.divmod(np.arange(ss * ss), ss)
        samples = labels[ys[:, None] * ss + dy, xs[:, None] * ss + dx]  # [mixed, ss * ss]
        classes = len(Label)
        slots = np.arange(ys.size)[:, None] * classes + samples
        counts = np.bincount(slots.ravel(), minlength=ys.size * classes)
        out[ys, xs] = counts.reshape(ys.size, classes).argmax(axis=1)
    return out


class _Window:
    """A private copy of part of a Canvas's colours and labels (see Canvas.clipped)."""

    def __init__(self, rgb: np.ndarray, labels: np.ndarray, px: int, origin) -> None:
        self.rgb, self.labels, self.px, self.origin = rgb, labels, px, origin

    def fill(self, polygon, rgb, material, label: Label) -> None:
        points = [fixed_point(polygon, self.px, self.origin)]
        cv2.fillPoly(self.rgb, points, colour(rgb), cv2.LINE_8, SHIFT)
        cv2.fillPoly(self.labels, points, int(label), cv2.LINE_8, SHIFT)
