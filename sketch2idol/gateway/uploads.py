"""An upload in a faces request -> the framed uint8 sketch and the t vector, refusals as
HTTP answers. The checks themselves are `core.faces_request` (shared with `generate
--triton`); this module maps their reasons to statuses. Both are CPU work: the app runs
them off the event loop.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from sketch2idol.core.contract import T_MEANING, T_RANGE_TEXT, t_outside_range
from sketch2idol.core.data.imageload import ImageRejected
from sketch2idol.core.faces_request import read_drawing
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.gateway.errors import ApiError

INCLUDE_VALUES = ("refined", "neighbors", "guide")
#: ImageRejected reason -> HTTP status.
STATUS_BY_REASON = {"too_large": 413, "too_many_pixels": 413, "unsupported_format": 415,
                    "empty": 422, "corrupt": 422, "truncated": 422, "too_small": 422,
                    "blank_drawing": 422}


def decode_drawing(data: bytes, max_bytes: int, max_pixels: int) -> np.ndarray:
    """Upload bytes -> uint8 RGB [H, W, 3]; ApiError for anything refused."""
    try:
        return read_drawing(data, max_bytes=max_bytes, max_pixels=max_pixels)
    except ImageRejected as rejected:
        raise ApiError(STATUS_BY_REASON.get(rejected.reason, 422), rejected.reason,
                       rejected.detail) from None


def t_vector(master: float | None, per_component: dict[str, float | None],
             default: float) -> np.ndarray:
    """float32 [5] in COMPONENTS order: per-component values win over the master t."""
    base = default if master is None else master
    values = [per_component.get(name) for name in COMPONENTS]
    t = np.array([base if value is None else value for value in values], np.float32)
    for name, value in zip(("t", *COMPONENTS), (base, *t)):
        if t_outside_range(value):
            raise t_error(name if name == "t" else f"t_{name}", value)
    return t


def t_error(field: str, value) -> ApiError:
    """The 422 for a blend field that is not a number in T_RANGE."""
    if isinstance(value, str):
        shown = repr(value if len(value) <= 40 else value[:40] + "...")
    else:
        shown = value
    return ApiError(422, "invalid_t", f"{field} must be a number in {T_RANGE_TEXT} "
                    f"({T_MEANING}), got {shown}", field=field)


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
