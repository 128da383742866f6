"""One faces request, the same for every caller — the gateway, `sketch2idol generate
--triton`, the benchmarks and the tests: what an upload may be (formats, byte and pixel
limits), when a decoded image holds no drawing, how a drawing is framed to the size the
served ensemble takes, and the ensemble's input tensors.

Decoding is `data.imageload.load_image` (format from content, byte and pixel limits checked
from the header before any pixel is decoded, EXIF orientation, alpha onto white); a decoded
image under MIN_SIDE pixels on its longer side, or with no ink at all, is refused too; then
`place_drawing` finds the strokes' bounding box and frames them where the model expects a
face. Every refusal is an `ImageRejected` with a reason code and a sentence.
"""

from __future__ import annotations

import numpy as np

from sketch2idol.core import contract
from sketch2idol.core.data.imageload import ImageRejected, load_image
from sketch2idol.core.data.placement import INK_LEVEL, ink_box, place_drawing, to_grey

#: The drawing's formats (recognised by content) and the content types they are sent as.
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}
ACCEPTED_FORMATS = frozenset(CONTENT_TYPES)
#: Default upload limits (the gateway's S2I_MAX_BODY_BYTES and S2I_MAX_PIXELS start here).
MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
#: The longer side of an image must have at least this many pixels to hold a drawing.
MIN_SIDE = 16


def read_drawing(data: bytes, max_bytes: int = MAX_BYTES,
                 max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Upload bytes -> uint8 RGB [H, W, 3]; ImageRejected for anything refused."""
    drawing = load_image(data, max_bytes=max_bytes, max_pixels=max_pixels,
                         formats=ACCEPTED_FORMATS)
    check_drawing(drawing)
    return drawing


def check_drawing(drawing: np.ndarray) -> None:
    """ImageRejected for a decoded image no face can come from: too small, or no ink."""
    height, width = drawing.shape[:2]
    if max(height, width) < MIN_SIDE:
        raise ImageRejected("too_small", f"the image is {width}x{height} pixels; a drawing "
                            f"needs at least {MIN_SIDE} pixels on its longer side")
    if ink_box(to_grey(drawing)) is None:
        raise ImageRejected("blank_drawing", f"the drawing has no strokes (no pixel darker "
                            f"than grey level {INK_LEVEL}); draw a face first")


def frame_drawing(drawing: np.ndarray, size: int) -> np.ndarray:
    """The strokes' bounding box placed where the model expects a face: uint8 [size, size]."""
    return place_drawing(drawing, size)


def ensemble_arrays(sketches: np.ndarray, t: np.ndarray,
                    looks: np.ndarray) -> dict[str, np.ndarray]:
    """The ensemble's inputs for a batch — SKETCH [B, S, S], T [B, 5], APPEARANCE
    [B, LOOK_DIM] — contiguous, in the contract's dtypes."""
    specs = contract.tensor_specs(sketches.shape[-1], k=1)
    return {name: np.ascontiguousarray(value, specs[name].numpy_dtype)
            for name, value in ((contract.SKETCH, sketches), (contract.T, t),
                                (contract.APPEARANCE, looks))}


def ensemble_inputs(sketches: np.ndarray, t: np.ndarray, looks: np.ndarray, module) -> list:
    """`ensemble_arrays` as `module`'s InferInputs (tritonclient.http, .grpc or .grpc.aio),
    datatypes from the contract."""
    specs = contract.tensor_specs(sketches.shape[-1], k=1)
    inputs = []
    for name, array in ensemble_arrays(sketches, t, looks).items():
        tensor = module.InferInput(name, list(array.shape), specs[name].datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs
