"""Image-quality and sketch-fidelity metrics.

- image quality against the ground-truth photo: L1 (0..1), PSNR (dB), SSIM;
- sketch fidelity between two sketches (ink = grey < 128): symmetric chamfer distance in
  pixels (mean distance from each ink pixel to the nearest ink of the other sketch, both
  ways, averaged) and edge F1 at a tolerance of 1% of the image diagonal.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

INK_LEVEL = 128
TOLERANCE_FRACTION = 0.01
MAX_PSNR = 100.0  # reported for identical images instead of infinity


def image_quality(generated: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """uint8 RGB [H, W, 3] pair -> {"l1", "psnr", "ssim"}."""
    diff = np.abs(generated.astype(np.float32) - truth.astype(np.float32)) / 255.0
    with np.errstate(divide="ignore"):
        psnr = float(peak_signal_noise_ratio(truth, generated, data_range=255))
    return {
        "l1": float(diff.mean()),
        "psnr": min(psnr, MAX_PSNR),
        "ssim": float(structural_similarity(truth, generated, channel_axis=2, data_range=255)),
    }


def distance_to_ink(ink: np.ndarray) -> np.ndarray:
    """Per pixel, the distance to the nearest ink pixel (inf-like if there is none)."""
    if not ink.any():
        return np.full(ink.shape, float(max(ink.shape)), np.float32)
    return cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, 5)


def sketch_fidelity(candidate: np.ndarray, reference: np.ndarray,
                    region: tuple[slice, slice] | None = None) -> dict[str, float]:
    """uint8 sketches [H, W] -> {"chamfer_px", "edge_f1"}, optionally within `region`."""
    cand_ink, ref_ink = candidate < INK_LEVEL, reference < INK_LEVEL
    to_ref, to_cand = distance_to_ink(ref_ink), distance_to_ink(cand_ink)
    if region is not None:
        cand_ink, ref_ink = cand_ink[region], ref_ink[region]
        to_ref, to_cand = to_ref[region], to_cand[region]
    tolerance = TOLERANCE_FRACTION * math.hypot(*candidate.shape)
    if not cand_ink.any() and not ref_ink.any():
        return {"chamfer_px": 0.0, "edge_f1": 1.0}
    if not cand_ink.any() or not ref_ink.any():
        return {"chamfer_px": float(max(candidate.shape)), "edge_f1": 0.0}
    forward, backward = to_ref[cand_ink], to_cand[ref_ink]
    precision = float((forward <= tolerance).mean())
    recall = float((backward <= tolerance).mean())
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"chamfer_px": float((forward.mean() + backward.mean()) / 2), "edge_f1": f1}
