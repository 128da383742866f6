"""The ways a held-out sketch is spoiled to test stage 1's robustness, each seeded."""

from __future__ import annotations

import cv2
import numpy as np

from sketch2idol.core.data.augment import drop_strokes, jitter_stroke_width, random_affine


def shift(sketch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Move the drawing by up to +-8 px (at 256; scaled with the size)."""
    return random_affine(sketch, rng, crop_scale=(1.0, 1.0), max_aspect=1.0,
                         max_shift=8 / 256, max_rotation_deg=0.0)


def dropout(sketch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return drop_strokes(sketch, rng, holes=4, radius=(0.02, 0.04))


def width(sketch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return jitter_stroke_width(sketch, rng)


def noise_strokes(sketch: np.ndarray, rng: np.random.Generator, count: int = 6) -> np.ndarray:
    """Add short stray strokes anywhere on the page."""
    out = sketch.copy()
    side = sketch.shape[0]
    thickness = max(1, round(2 * side / 256))
    for _ in range(count):
        x, y = rng.uniform(0.1, 0.9, 2) * side
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.03, 0.1) * side
        dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
        cv2.line(out, (round(x - dx), round(y - dy)), (round(x + dx), round(y + dy)), 0,
                 thickness, cv2.LINE_AA)
    return out


def all_at_once(sketch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return noise_strokes(width(dropout(shift(sketch, rng), rng), rng), rng)


PERTURBATIONS = {"shift": shift, "dropout": dropout, "width": width, "noise": noise_strokes,
                 "all": all_at_once}
