"""Similarity alignment: put a face's eyes and mouth on the landmark template.

The transform (rotation + uniform scale + translation, no shear, no mirror) is the least-
squares fit of the detected (left_eye, right_eye, mouth) onto `geometry.template_points`
(Umeyama, 1991). Three points and four degrees of freedom leave a residual: how far this
face's proportions are from the template's.
"""

from __future__ import annotations

import cv2
import numpy as np

from sketch2idol.core.geometry import ALIGNMENT_LANDMARKS, check_size, template_points


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 similarity matrix M with dst ~ M @ [src, 1] (Umeyama, no reflection)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need matching [N>=2, 2] point sets, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = float((src_c**2).sum()) / len(src)
    if src_var <= 1e-12:
        raise ValueError("the source points coincide")
    u, s, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1.0
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(s) @ d)) / src_var
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to points [N, 2]."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def matrix_scale(matrix: np.ndarray) -> float:
    """The uniform scale of a 2x3 similarity matrix."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def alignment_matrix(points: dict[str, tuple[float, float]], size: int) -> np.ndarray:
    """The similarity matrix taking the landmarks `points` onto the template at `size`."""
    src = np.array([points[name] for name in ALIGNMENT_LANDMARKS])
    return similarity_transform(src, np.array(template_points(check_size(size))))


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Resample `image` through `matrix` into size x size, border pixels replicated.

    When the face is shrunk by more than 1.5x, the part of the source the output sees is
    first reduced with area averaging, so the bilinear warp does not alias.
    """
    scale = matrix_scale(matrix)
    matrix = np.asarray(matrix, dtype=np.float64)
    if scale < 1.0 / 1.5:
        # Footprint of the output square in the source, plus a margin for interpolation.
        inverse = cv2.invertAffineTransform(matrix)
        corners = transform_points(inverse, np.array([[0, 0], [size, 0], [0, size],
                                                      [size, size]], dtype=np.float64))
        height, width = image.shape[:2]
        x0 = int(np.clip(np.floor(corners[:, 0].min()) - 2, 0, width - 1))
        y0 = int(np.clip(np.floor(corners[:, 1].min()) - 2, 0, height - 1))
        x1 = int(np.clip(np.ceil(corners[:, 0].max()) + 3, x0 + 1, width))
        y1 = int(np.clip(np.ceil(corners[:, 1].max()) + 3, y0 + 1, height))
        crop = image[y0:y1, x0:x1]
        # Reduce to ~1.25x the output resolution; the warp does the rest.
        factor = min(1.0, scale * 1.25)
        new_w = max(1, round(crop.shape[1] * factor))
        new_h = max(1, round(crop.shape[0] * factor))
        small = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA)
        fx, fy = new_w / crop.shape[1], new_h / crop.shape[0]
        # source pixel centres: small = (orig - x0 + 0.5) * f - 0.5
        to_small = np.array([[fx, 0, (0.5 - x0) * fx - 0.5],
                             [0, fy, (0.5 - y0) * fy - 0.5]])
        matrix = matrix @ np.vstack([cv2.invertAffineTransform(to_small), [0, 0, 1]])
        image = small
    return cv2.warpAffine(np.ascontiguousarray(image), matrix, (size, size),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def border_fraction(image_shape: tuple[int, ...], matrix: np.ndarray, size: int) -> float:
    """Fraction of the output square that falls outside the source image (filled by the
    border replication)."""
    height, width = image_shape[:2]
    inverse = cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))
    step = max(1, size // 64)
    grid = np.stack(np.meshgrid(np.arange(0, size, step) + 0.5,
                                np.arange(0, size, step) + 0.5), axis=-1).reshape(-1, 2)
    src = transform_points(inverse, grid)
    inside = ((src[:, 0] >= -0.5) & (src[:, 0] <= width - 0.5)
              & (src[:, 1] >= -0.5) & (src[:, 1] <= height - 0.5))
    return float(1.0 - inside.mean())


def fit_residual(points: dict[str, tuple[float, float]], matrix: np.ndarray, size: int) -> float:
    """RMS distance (in pixels of a 256 x 256 image) between the aligned (left_eye,
    right_eye, mouth) and the template: how far this face's proportions are from it."""
    src = np.array([points[name] for name in ALIGNMENT_LANDMARKS])
    dst = np.array(template_points(check_size(size)))
    errors = np.linalg.norm(transform_points(matrix, src) - dst, axis=1)
    return float(np.sqrt(np.mean(errors**2)) * 256.0 / size)
