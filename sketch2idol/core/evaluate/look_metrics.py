"""Does the face wear the look it was asked for, and is it clean? Metrics against label maps.

- colour adherence: RGB distance (0..255, Euclidean) between a requested colour and the
  output's mean colour inside the ground-truth region of that colour (eroded, so that
  anti-aliased borders do not count);
- hair-region IoU: the output's hair is the pixels whose colour is nearer the look's hair
  colour than any other large-region colour of the look (skin, clothes, background);
- texture: high-frequency energy (mean squared difference from a Gaussian-blurred copy, on
  luminance) inside flat ground-truth regions, as a ratio to the ground truth's own. A
  checkerboard or noise pattern raises it; a blur lowers it.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Erosion (px at 256) of a region before its mean colour is taken.
ERODE_PX = 1
#: A region needs this many pixels (after erosion) to be measured.
MIN_REGION_PX = 12
HIGH_PASS_SIGMA = 1.5


def eroded(mask: np.ndarray, pixels: int = ERODE_PX) -> np.ndarray:
    if pixels <= 0:
        return mask.astype(bool)
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)


def region_mean(image: np.ndarray, region: np.ndarray) -> np.ndarray | None:
    """Mean RGB of `image` (uint8 [H, W, 3]) inside the eroded `region`; None if too small."""
    inside = eroded(region)
    if inside.sum() < MIN_REGION_PX:
        return None
    return image[inside].astype(np.float64).mean(axis=0)


def colour_error(face: np.ndarray, region: np.ndarray, rgb) -> float | None:
    """RGB distance between `rgb` and the mean of `face` inside `region`; None when the
    region is too small to measure."""
    mean = region_mean(face, region)
    if mean is None:
        return None
    return float(np.linalg.norm(mean - np.asarray(rgb, np.float64)))


def nearest_colour_mask(face: np.ndarray, target, others) -> np.ndarray:
    """Pixels of `face` nearer (RGB) to `target` than to every colour in `others`."""
    pixels = face.reshape(-1, 3).astype(np.float32)
    colours = np.asarray([target, *others], np.float32)
    distances = ((pixels[:, None, :] - colours[None]) ** 2).sum(axis=2)
    return (distances.argmin(axis=1) == 0).reshape(face.shape[:2])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def high_frequency_energy(image: np.ndarray, region: np.ndarray) -> float | None:
    """Mean squared high-pass luminance (0..255 units) inside `region`; None if too small."""
    inside = eroded(region, 2)
    if inside.sum() < MIN_REGION_PX:
        return None
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    residual = grey - cv2.GaussianBlur(grey, (0, 0), HIGH_PASS_SIGMA)
    return float((residual[inside] ** 2).mean())
