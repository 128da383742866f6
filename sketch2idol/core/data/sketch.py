"""Photo -> sketch: the one line extractor used for synthetic and real photos alike.

XDoG (Winnemoeller et al., 2012) on an edge-preserving smoothed luminance, binarised,
speckles removed, then every line thinned to one pixel and redrawn at a width that scales
with the resolution, so that training sketches look like pen strokes drawn by a person
rather than a noisy edge map. Output: uint8 [H, W], black (0) lines on white (255).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.morphology import skeletonize

#: The resolution the default parameters were tuned at; sigmas, areas and widths scale with it.
TUNED_SIZE = 256
#: Which thinning implementation this environment uses. The project's environment has
#: opencv-contrib (cv2.ximgproc); a bare GPU training box with only opencv-python-headless
#: falls back to scikit-image's Zhang-Suen skeleton, whose output differs in a few pixels,
#: so data sets record it and never mix the two.
THINNING = "opencv-contrib" if hasattr(cv2, "ximgproc") else "scikit-image"


@dataclass(frozen=True)
class SketchParams:
    sigma: float = 0.9  # inner Gaussian of the DoG, in pixels at TUNED_SIZE
    k: float = 1.6  # ratio of the outer to the inner Gaussian
    tau: float = 1.0  # weight of the outer Gaussian (1 = plain DoG)
    epsilon: float = -0.008  # XDoG threshold on the DoG response (luminance units)
    phi: float = 60.0  # steepness of the soft threshold
    line_threshold: float = 0.5  # XDoG response below this is a line pixel
    min_component_area: int = 16  # connected line blobs smaller than this are speckles
    line_width: float = 2.0  # output stroke width, in pixels at TUNED_SIZE
    smooth_diameter: int = 5  # bilateral pre-filter diameter at TUNED_SIZE (0 = off)


DEFAULT_PARAMS = SketchParams()


def to_luminance(photo: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] or grey [H, W] -> float32 luminance in [0, 1]."""
    if photo.ndim == 3:
        photo = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    return photo.astype(np.float32) / 255.0


def xdog(luminance: np.ndarray, params: SketchParams, scale: float) -> np.ndarray:
    """Soft-thresholded difference of Gaussians; ~1 on flat regions, ~0 on dark lines."""
    sigma = params.sigma * scale
    inner = cv2.GaussianBlur(luminance, (0, 0), sigma)
    outer = cv2.GaussianBlur(luminance, (0, 0), sigma * params.k)
    dog = inner - params.tau * outer
    response = 1.0 + np.tanh(params.phi * (dog - params.epsilon))
    return np.where(dog >= params.epsilon, 1.0, response).astype(np.float32)


def remove_speckles(lines: np.ndarray, min_area: int) -> np.ndarray:
    """Drop 8-connected line blobs with fewer than `min_area` pixels. `lines` is bool."""
    if min_area <= 1:
        return lines
    count, labels, stats, _ = cv2.connectedComponentsWithStats(lines.astype(np.uint8), 8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False  # background label
    return keep[labels]


def thin(lines: np.ndarray, backend: str = THINNING) -> np.ndarray:
    """The 1-px skeleton of a boolean line mask."""
    if backend == "opencv-contrib":
        return cv2.ximgproc.thinning(lines.astype(np.uint8) * 255) > 0
    return skeletonize(lines, method="zhang")


def normalise_width(lines: np.ndarray, width: float) -> np.ndarray:
    """Thin every line to its 1-px skeleton, then redraw it `width` pixels wide."""
    skeleton = thin(lines).astype(np.uint8) * 255
    side = max(1, round(width))
    if side == 1:
        return skeleton > 0
    shape = cv2.MORPH_RECT if side == 2 else cv2.MORPH_ELLIPSE
    return cv2.dilate(skeleton, cv2.getStructuringElement(shape, (side, side))) > 0


def extract_sketch(photo: np.ndarray, params: SketchParams = DEFAULT_PARAMS) -> np.ndarray:
    """Turn a photo (uint8 RGB [H, W, 3] or grey [H, W]) into a sketch, uint8 [H, W]."""
    if photo.dtype != np.uint8 or photo.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 image [H, W] or [H, W, 3], got {photo.dtype} "
                         f"{photo.shape}")
    scale = max(photo.shape[:2]) / TUNED_SIZE
    if params.smooth_diameter > 0:
        diameter = max(3, round(params.smooth_diameter * scale) | 1)
        photo = cv2.bilateralFilter(np.ascontiguousarray(photo), diameter, 30, diameter)
    response = xdog(to_luminance(photo), params, scale)
    lines = response < params.line_threshold
    lines = remove_speckles(lines, round(params.min_component_area * scale * scale))
    lines = normalise_width(lines, params.line_width * scale)
    return np.where(lines, 0, 255).astype(np.uint8)
