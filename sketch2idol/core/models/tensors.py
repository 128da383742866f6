"""Pixel <-> network value conventions, defined once for training, pipeline and export.

Sketches and faces enter the networks in [-1, 1]: uint8 0 -> -1 (black ink), 255 -> +1
(white paper). Networks end in tanh and their outputs map back the same way.
"""

from __future__ import annotations

import numpy as np
import torch

WHITE = 1.0


def to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 (or float 0..255) pixels -> float32 in [-1, 1]."""
    return pixels.to(torch.float32) / 127.5 - 1.0


def to_pixels(values: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8 pixels, rounded to nearest."""
    return ((values.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)


def sketch_batch(sketches: np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W] or [H, W] numpy sketches -> float [B, 1, H, W] in [-1, 1]."""
    array = np.asarray(sketches)
    if array.ndim == 2:
        array = array[None]
    return to_unit(torch.from_numpy(np.ascontiguousarray(array)))[:, None]


def image_array(values: torch.Tensor) -> np.ndarray:
    """float [B, C, H, W] in [-1, 1] -> uint8 numpy [B, H, W] (C=1) or [B, H, W, C]."""
    pixels = to_pixels(values.detach().cpu())
    if pixels.shape[1] == 1:
        return pixels[:, 0].numpy()
    return pixels.permute(0, 2, 3, 1).numpy()
