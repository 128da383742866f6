"""Put a person's drawing where the models expect a face.

People draw on canvases of any size and aspect, often small or off-centre. The drawing's
bounding box (of its ink) is found; a drawing that already fills its canvas is kept as
framed (padded to a square with white); a small one is cut out with a margin so that it
fills as much of the frame as a training sketch does, centred where training sketches
are. The result is a uint8 [size, size] sketch, black ink on white.

The square is cut at most MAX_FRAME_SIDE pixels wide: a long thin canvas (say 1,000,000 x 10,
within any pixel limit) is shrunk first, so framing it never allocates side² bytes.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

INK_LEVEL = 128  # grey values below this are ink
#: A drawing whose ink box spans at least this fraction of its canvas is already framed.
FRAMED_FRACTION = 0.6
#: Fraction of the frame side that a training drawing's ink box spans (its larger side).
TYPICAL_FILL = 0.9
#: The framing square is never cut larger than this (memory); bigger ones are shrunk first.
MAX_FRAME_SIDE = 4096


def to_grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return image


def ink_box(grey: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), exclusive ends, of the ink; None for a blank canvas."""
    ys, xs = np.nonzero(grey < INK_LEVEL)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def square_crop(grey: np.ndarray, cx: float, cy: float, side: int) -> np.ndarray:
    """The side x side square centred at (cx, cy); outside the canvas is white paper."""
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    out = np.full((side, side), 255, np.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(grey.shape[1], x0 + side), min(grey.shape[0], y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = grey[sy0:sy1, sx0:sx1]
    return out


def place_drawing(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 grey [H, W] or RGB [H, W, 3] drawing -> uint8 [size, size] framed sketch."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ValueError(f"expected a uint8 image [H, W] or [H, W, 3], got {image.dtype} "
                         f"{image.shape}")
    grey = to_grey(image)
    height, width = grey.shape
    box = ink_box(grey)
    if box is None:
        return np.full((size, size), 255, np.uint8)
    x0, y0, x1, y1 = box
    extent = max(x1 - x0, y1 - y0)
    if extent >= FRAMED_FRACTION * max(height, width):
        cx, cy, side = width / 2, height / 2, max(height, width)
    else:
        cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, max(8, round(extent / TYPICAL_FILL))
    shrink = math.ceil(side / MAX_FRAME_SIDE)
    if shrink > 1:
        grey = cv2.resize(grey, (max(1, round(width / shrink)), max(1, round(height / shrink))),
                          interpolation=cv2.INTER_AREA)
        cx, cy, side = cx / shrink, cy / shrink, max(1, round(side / shrink))
    framed = square_crop(grey, cx, cy, side)
    interpolation = cv2.INTER_AREA if framed.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(framed, (size, size), interpolation=interpolation)
