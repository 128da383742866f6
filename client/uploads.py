"""An uploaded drawing -> the framed uint8 sketch the ensemble takes, and the t vector.

Decoding is `sketch2idol.data.imageload.load_image` (format from content, byte and pixel
limits checked from the header before any pixel is decoded, EXIF orientation, alpha onto
white) restricted to PNG and JPEG; a decoded image that cannot hold a drawing (under
MIN_SIDE pixels on its longer side, or no ink at all) is refused; then `place_drawing` finds
the strokes' bounding box and frames them where the model expects a face. Both are CPU
work: the app runs this module's functions off the event loop.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from client.errors import ApiError
from sketch2idol.contract import T_RANGE
from sketch2idol.data.imageload import ImageRejected, load_image
from sketch2idol.data.placement import INK_LEVEL, ink_box, place_drawing, to_grey
from sketch2idol.geometry import COMPONENTS

#: The drawing's formats (recognised by content) and the content types they are sent as.
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
ACCEPTED_FORMATS = frozenset(CONTENT_TYPES)
#: The longer side of an image must have at least this many pixels to hold a drawing.
MIN_SIDE = 16
INCLUDE_VALUES = ("refined", "neighbors", "guide")
#: ImageRejected reason -> HTTP status.
STATUS_BY_REASON = {"too_large": 413, "too_many_pixels": 413, "unsupported_format": 415,
                    "empty": 422, "corrupt": 422, "truncated": 422}


def decode_drawing(data: bytes, max_bytes: int, max_pixels: int) -> np.ndarray:
    """Upload bytes -> uint8 RGB [H, W, 3]; ApiError for anything refused."""
    try:
        drawing = load_image(data, max_bytes=max_bytes, max_pixels=max_pixels,
                             formats=ACCEPTED_FORMATS)
    except ImageRejected as rejected:
        raise ApiError(STATUS_BY_REASON.get(rejected.reason, 422), rejected.reason,
                       rejected.detail) from None
    check_drawing(drawing)
    return drawing


def check_drawing(drawing: np.ndarray) -> None:
    """422 for a decoded image no face can come from: too small, or without any ink."""
    height, width = drawing.shape[:2]
    if max(height, width) < MIN_SIDE:
        raise ApiError(422, "too_small", f"the image is {width}x{height} pixels; a drawing "
                       f"needs at least {MIN_SIDE} pixels on its longer side")
    if ink_box(to_grey(drawing)) is None:
        raise ApiError(422, "blank_drawing", f"the drawing has no strokes (no pixel darker "
                       f"than grey level {INK_LEVEL}); draw a face first")


def frame_drawing(drawing: np.ndarray, size: int) -> np.ndarray:
    """The strokes' bounding box placed where the model expects a face: uint8 [size, size]."""
    return place_drawing(drawing, size)


def t_vector(master: float | None, per_component: dict[str, float | None],
             default: float) -> np.ndarray:
    """float32 [5] in COMPONENTS order: per-component values win over the master t."""
    base = default if master is None else master
    values = [per_component.get(name) for name in COMPONENTS]
    t = np.array([base if value is None else value for value in values], np.float32)
    low, high = T_RANGE
    for name, value in zip(("t", *COMPONENTS), (base, *t)):
        if not (math.isfinite(value) and low <= value <= high):
            raise t_error(name if name == "t" else f"t_{name}", value)
    return t


def t_error(field: str, value) -> ApiError:
    """The 422 for a blend field that is not a number in T_RANGE."""
    if isinstance(value, str):
        shown = repr(value if len(value) <= 40 else value[:40] + "...")
    else:
        shown = value
    return ApiError(422, "invalid_t", f"{field} must be a number in [{T_RANGE[0]:g}, "
                    f"{T_RANGE[1]:g}] (1 keeps the drawing, 0 snaps to the learned faces), "
                    f"got {shown}", field=field)


def include_set(values: list[str]) -> set[str]:
    """`include` may repeat or be comma-separated; unknown values are refused."""
    wanted = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(wanted - set(INCLUDE_VALUES))
    if unknown:
        raise ApiError(422, "invalid_include", f"include has unknown value(s) "
                       f"{', '.join(unknown)}; allowed: {', '.join(INCLUDE_VALUES)}",
                       field="include")
    return wanted


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()
