"""Cutting a sketch into its five components, and pasting decoded components back.

Both are plain tensor ops (slicing, padding, masks), so the exported encoder and decoder
graphs contain exactly this code. Layout (see geometry.py):

- part crops (left eye, right eye, nose, mouth) are the raw window contents;
- the remainder is the whole sketch with the *inner* part of every part window blanked
  to white, keeping a border band of width `Window.feather` where strokes cross the edge;
- compositing starts from the decoded remainder and pastes the parts in
  geometry.COMPOSITING_ORDER, each with an alpha that ramps from 0 at its window edge to 1
  at `feather` pixels inside, exactly where the remainder's blanking begins, so strokes
  cross-fade across the band and no seam shows.
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F

from sketch2idol.core.geometry import (
    COMPONENTS,
    COMPOSITING_ORDER,
    PART_COMPONENTS,
    Window,
    component_windows,
)
from sketch2idol.core.models.tensors import WHITE


def window_alpha(window: Window) -> torch.Tensor:
    """[1, 1, s, s] paste alpha: 0 at the border, linear up to 1 at `feather` inside."""
    index = torch.arange(window.size, dtype=torch.float32)
    distance = torch.minimum(index + 0.5, window.size - index - 0.5)
    ramp = (distance / window.feather).clamp(max=1.0)
    return torch.minimum(ramp[:, None], ramp[None, :])[None, None]


def pad_to_image(tile: torch.Tensor, window: Window, size: int, value: float) -> torch.Tensor:
    """Place a [.., s, s] tile at its window in a [.., size, size] canvas filled with value."""
    right = size - window.x - window.size
    bottom = size - window.y - window.size
    return F.pad(tile, (window.x, right, window.y, bottom), value=value)


@cache
def blank_mask(size: int) -> torch.Tensor:
    """[1, 1, size, size]: 1 where the remainder is blanked (inside every part window)."""
    mask = torch.zeros(1, 1, size, size)
    for name in PART_COMPONENTS:
        window = component_windows(size)[name]
        inner = (window_alpha(window) >= 1.0).to(torch.float32)
        mask = torch.maximum(mask, pad_to_image(inner, window, size, 0.0))
    return mask


def crop_components(sketch: torch.Tensor) -> dict[str, torch.Tensor]:
    """[B, 1, H, H] sketch in [-1, 1] -> {component: [B, 1, s, s]} in geometry order."""
    size = int(sketch.shape[-1])  # a constant when traced: the windows are static
    windows = component_windows(size)
    crops = {name: sketch[..., windows[name].rows, windows[name].cols]
             for name in PART_COMPONENTS}
    mask = blank_mask(size).to(sketch.device)
    crops["remainder"] = sketch * (1.0 - mask) + WHITE * mask
    return crops


def composite(decoded: dict[str, torch.Tensor]) -> torch.Tensor:
    """Decoded components -> one [B, 1, H, H] refined sketch (see the module docstring)."""
    canvas = decoded["remainder"]
    size = int(canvas.shape[-1])
    windows = component_windows(size)
    for name in COMPOSITING_ORDER:
        window = windows[name]
        alpha = pad_to_image(window_alpha(window).to(canvas.device), window, size, 0.0)
        part = pad_to_image(decoded[name], window, size, WHITE)
        canvas = alpha * part + (1.0 - alpha) * canvas
    return canvas


def encode_components(autoencoders, sketch: torch.Tensor) -> torch.Tensor:
    """Stage 1's encode: [B, 1, H, H] sketch in [-1, 1] -> features [B, C, D] in COMPONENTS
    order. The feature bank, the refiner and the exported encoders graph all run this."""
    crops = crop_components(sketch)
    return torch.stack([autoencoders[name].encode(crops[name]) for name in COMPONENTS], dim=1)


def decode_components(autoencoders, features: torch.Tensor) -> torch.Tensor:
    """Stage 1's decode: features [B, C, D] -> the refined sketch [B, 1, H, H] in [-1, 1]
    (each component decoded, then composited). The refiner and the exported decoders graph
    run this."""
    return composite({name: autoencoders[name].decode(features[:, c])
                      for c, name in enumerate(COMPONENTS)})
