"""GET /v1/config: what a client needs to build a faces request, read from the definitions the
gateway itself checks requests with, so the drawing page restates none of them:

    components   sketch2idol.core.geometry.COMPONENTS (the `t_<component>` fields)
    t            the default (S2I_DEFAULT_T), the range (contract.T_RANGE), the slider step
    include      sketch2idol.gateway.uploads.INCLUDE_VALUES
    looks        GET /v1/looks (the look fields, contract.LOOK_FIELDS, and the named looks)
    upload       content types, body and pixel limits (settings), the smallest side
    image_size   the served model's side, and `model` its identity (as a face reports it)

When Triton cannot name its model (down, starting) `model` says so and `image_size` is null;
the rest is answered all the same, so the page can build its controls.
"""

from __future__ import annotations

import math

from sketch2idol.core.contract import T_RANGE
from sketch2idol.core.faces_request import CONTENT_TYPES, MIN_SIDE
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.gateway.errors import ApiError
from sketch2idol.gateway.looks import looks_catalogue
from sketch2idol.gateway.settings import Settings
from sketch2idol.gateway.triton import TritonLink
from sketch2idol.gateway.uploads import INCLUDE_VALUES

#: The drawing page's t slider steps, coarsest first: the first the default lies on is used
#: (a range input moves its value onto its step: 0.37 on a 0.05 slider would show 0.35).
#: The page sends t to 3 decimals.
SLIDER_STEPS = (0.05, 0.01, 0.001)


def slider_step(default: float) -> float:
    """The coarsest SLIDER_STEPS step that `default` lies on (counted from the minimum t)."""
    for step in SLIDER_STEPS:
        steps = (default - T_RANGE[0]) / step
        if math.isclose(steps, round(steps), abs_tol=1e-6):
            return step
    return SLIDER_STEPS[-1]


async def model_status(triton: TritonLink) -> tuple[dict, int | None]:
    """The `model` part and the image size: the served model's, or why there is none."""
    try:
        served = await triton.identity()
    except ApiError as error:  # Triton down, starting, or without the ensemble
        return {"available": False, "identity": None, "detail": error.detail}, None
    return {"available": True, "identity": served.as_dict(), "detail": None}, served.size


async def request_config(settings: Settings, triton: TritonLink) -> dict:
    model, image_size = await model_status(triton)
    return {
        "components": list(COMPONENTS),
        "t": {"default": settings.default_t, "minimum": T_RANGE[0], "maximum": T_RANGE[1],
              "step": slider_step(settings.default_t)},
        "include": list(INCLUDE_VALUES),
        "looks": looks_catalogue(),
        "upload": {"content_types": list(CONTENT_TYPES.values()),
                   "max_bytes": settings.max_body_bytes, "max_pixels": settings.max_pixels,
                   "min_side": MIN_SIDE},
        "image_size": image_size,
        "model": model,
    }
