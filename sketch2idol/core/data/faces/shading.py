"""Light and shadow.

The canvas holds flat colours; here every material gets a smooth multiplicative field
(diffuse light from one direction, soft rim shadow, the fringe's shadow on the forehead,
the chin's shadow on the neck, blush, the hair's highlight band) and the background gets
its gradient. The fields are smooth, so they are computed on a fixed coarse grid
(FIELD_SIZE, the same for every output size) and upsampled; the per-material coverage
masks keep the canvas's anti-aliased edges.
"""

from __future__ import annotations

import cv2
import numpy as np

from sketch2idol.core.data.faces.canvas import SHIFT, Material, colour, fixed_point
from sketch2idol.core.data.faces.hair import SKULL_CENTRE, HairShape
from sketch2idol.core.data.faces.head import FaceShape
from sketch2idol.core.data.faces.layout import Layout

FIELD_SIZE = 128


def _mask(polygons, offset=(0.0, 0.0), thickness: float = 0.0) -> np.ndarray:
    """Anti-aliased float32 mask of filled polygons (or polylines `thickness` wide)."""
    mask = np.zeros((FIELD_SIZE, FIELD_SIZE), np.uint8)
    pts = [fixed_point(np.asarray(p) + offset, FIELD_SIZE) for p in polygons]
    if thickness > 0:
        cv2.polylines(mask, pts, False, 255, max(1, round(thickness * FIELD_SIZE)),
                      cv2.LINE_AA, SHIFT)
    else:
        cv2.fillPoly(mask, pts, 255, cv2.LINE_AA, SHIFT)
    return mask.astype(np.float32) * (1.0 / 255.0)


def _blur(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), max(sigma * FIELD_SIZE, 0.3))


def _tint_weights(tint) -> np.ndarray:
    """How much each channel darkens in shadow: shadows shift towards `tint`."""
    t = 1.0 - np.asarray(tint, dtype=np.float32) / 255.0
    return 0.55 + 0.45 * t / max(float(t.max()), 1e-3)


def _ratio(a, b) -> np.ndarray:
    return np.asarray(a, np.float32) / np.maximum(np.asarray(b, np.float32), 1.0)


def _fields(params: dict, layout: Layout, face: FaceShape, hair: HairShape) -> np.ndarray:
    """[FIELD_SIZE, FIELD_SIZE, 8] float32: the scalar fields, in the order of `shade`."""
    light, skin, hair_params = params["light"], params["skin"], params["hair"]
    angle = np.radians(light["angle"])
    lx, ly = float(np.sin(angle)), float(-np.cos(angle))
    strength = light["strength"]
    grid = (np.arange(FIELD_SIZE, dtype=np.float32) + 0.5) / FIELD_SIZE
    xs, ys = grid[None, :], grid[:, None]
    cx, ey = layout.cx, layout.eye_y

    def toward(y0, rx, ry):  # > 0 on the side facing the light
        return ((xs - cx) / rx) * lx + ((ys - y0) / ry) * ly

    face_mask = _mask([face.contour])
    rim = 1.0 - _blur(face_mask, 0.03)
    away = np.clip(0.45 - toward(ey + 0.1, 0.26, 0.4), 0.0, 1.0)
    fringe = _blur(_mask([hair.front, *hair.tufts], (-lx * 0.006, 0.013)), 0.007)
    face_dark = np.clip(-strength * toward(ey + 0.1, 0.28, 0.42) + light["rim"] * rim * away * 2
                        + light["fringe_shadow"] * fringe, -0.15, 0.6)
    blush = np.zeros_like(face_mask)
    if skin["blush"] > 0:
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        ellipses = [np.stack([cx + s * (layout.half_ipd + 0.012) + 0.04 * np.cos(t),
                              ey + 0.078 + 0.02 * np.sin(t)], axis=1) for s in (-1, 1)]
        blush = _blur(_mask(ellipses), 0.012) * skin["blush"]
    chin = _blur(_mask([face.contour], (-lx * 0.012, 0.034)), 0.004)
    neck_dark = np.clip(0.08 - strength * toward(ey + 0.35, 0.3, 0.4)
                        + light["neck_shadow"] * chin, -0.1, 0.6)
    hair_lit = (1.0 + 0.8 * strength * toward(ey + SKULL_CENTRE, 0.3, 0.3)
                - light["hair_shadow"] * _blur(face_mask, 0.02))
    band = np.zeros_like(face_mask)
    if hair.sheen is not None and hair_params["sheen"] > 0.05:
        band = _blur(_mask([hair.sheen + (lx * 0.02, 0.0)], thickness=0.018), 0.006)
        band *= 0.8 * hair_params["sheen"]
    back_lit = 0.78 * (1.0 + 0.5 * strength * toward(ey + 0.2, 0.4, 0.5))
    cloth_lit = 1.0 + strength * toward(ey + 0.55, 0.35, 0.2)
    background = params["background"]
    kind = background["kind"]
    if kind == "vertical":
        bg_t = np.broadcast_to(ys, face_mask.shape)
    elif kind == "diagonal":
        a = np.radians(background["angle"])
        bg_t = 0.5 + ((xs - 0.5) * np.cos(a) + (ys - 0.5) * np.sin(a)) / 1.2
    elif kind == "radial":
        bg_t = np.hypot(xs - 0.5, ys - 0.42) / 0.7
    else:
        bg_t = np.zeros_like(face_mask)
    planes = [face_dark, blush, neck_dark, hair_lit, band, back_lit, cloth_lit,
              np.clip(bg_t, 0.0, 1.0)]
    return np.stack([np.broadcast_to(p, face_mask.shape) for p in planes], axis=2).astype(
        np.float32)


def shade(rgb: np.ndarray, coverage: dict, params: dict, layout: Layout, face: FaceShape,
          hair: HairShape, size: int) -> np.ndarray:
    """Apply lighting to the downsampled flat picture (float RGB); returns uint8 RGB."""
    fields = cv2.resize(_fields(params, layout, face, hair), (size, size),
                        interpolation=cv2.INTER_LINEAR)
    face_dark, blush, neck_dark, hair_lit, band, back_lit, cloth_lit, bg_t = (
        fields[..., i] for i in range(8))
    zero = np.zeros((size, size), np.float32)
    f = {m: coverage.get(m, zero) for m in Material}
    skin, hair_params = params["skin"], params["hair"]

    # gain = plain + dark * (-tint) + sheen * (highlight / hair - 1) + blush * (blush / skin - 1)
    hair_part = f[Material.HAIR] * hair_lit
    plain = (f[Material.FACE] + f[Material.SKIN] + f[Material.EYE] + hair_part
             + f[Material.HAIR_BACK] * back_lit + f[Material.CLOTH] * cloth_lit)
    dark = f[Material.FACE] * face_dark + f[Material.SKIN] * neck_dark
    sheen = hair_part * band
    rosy = f[Material.FACE] * blush
    mix = np.stack([np.ones(3, np.float32), -_tint_weights(skin["shadow_tint"]),
                    _ratio(hair_params["highlight"], hair_params["color"]) - 1.0,
                    _ratio(skin["blush_color"], skin["color"]) - 1.0])
    total = np.stack([plain, dark, sheen, rosy], axis=2) @ mix
    other = np.maximum(1.0 - f[Material.BACKGROUND], 1e-3)
    gain = total / other[..., None]

    bg = f[Material.BACKGROUND]
    c0, c1 = (np.asarray(colour(c), np.float32) for c in params["background"]["colors"])
    backdrop = np.stack([bg, bg * bg_t], axis=2) @ np.stack([c0, c1 - c0])
    out = (rgb - bg[..., None] * c0) * gain + backdrop
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
