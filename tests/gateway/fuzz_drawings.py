"""Hypothesis strategies for *valid* drawings: PNG and JPEG files the gateway must accept.

The fuzzer sends these as the `sketch` part whenever it generates a schema-valid request, so
"valid data is accepted" can be checked with a real status (200); the invalid bytes come from
schemathesis' negative mode and from the bad-input corpus. Canvases are small (each valid
request runs the real models, whatever the canvas size), in every mode the decoder has to
handle: bilevel, grey, 16-bit grey, palette, grey+alpha, RGB, RGBA on transparent, CMYK.
"""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import strategies as st
from image_bytes import encode
from PIL import Image, ImageDraw

from sketch2idol.core.faces_request import MIN_SIDE

PNG_MODES = ("1", "L", "I;16", "P", "LA", "RGB", "RGBA")
JPEG_MODES = ("L", "RGB", "CMYK")
HELDOUT_COUNT = 3


@functools.lru_cache(maxsize=1)
def heldout_sketches() -> tuple[Image.Image, ...]:
    """A few real held-out sketches (256², what the model was made for)."""
    from sketch2idol.export.samples import HELDOUT_SEED, render_sketches  # torch: only when drawn

    return tuple(Image.fromarray(s) for s in render_sketches(HELDOUT_SEED, HELDOUT_COUNT, 256))


@st.composite
def stroke_canvases(draw) -> Image.Image:
    """A white RGB canvas of any shape the gateway takes (the longer side at least
    `MIN_SIDE`) with a solid mark that survives any JPEG quality, and up to 10 strokes."""
    width, height = draw(st.tuples(st.integers(1, 480), st.integers(1, 480))
                         .filter(lambda shape: max(shape) >= MIN_SIDE))
    canvas = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(canvas)
    x, y = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
    pen.rectangle([x, y, x + 3, y + 3], fill="black")
    points = st.tuples(st.integers(0, width - 1), st.integers(0, height - 1))
    for start, end, pen_width in draw(st.lists(st.tuples(points, points, st.integers(1, 6)),
                                               max_size=10)):
        pen.line([start, end], fill="black", width=pen_width)
    return canvas


def drawings() -> st.SearchStrategy[Image.Image]:
    """Mostly synthetic canvases, sometimes a real held-out sketch."""
    real = st.integers(0, HELDOUT_COUNT - 1).map(lambda i: heldout_sketches()[i])
    return st.one_of(stroke_canvases(), real)


def in_mode(image: Image.Image, mode: str) -> Image.Image:
    """`image` (strokes on white) converted to `mode`; alpha modes get a transparent ground."""
    if mode in ("LA", "RGBA"):
        grey = np.asarray(image.convert("L"))
        alpha = Image.fromarray(np.where(grey < 128, 255, 0).astype(np.uint8))
        converted = image.convert(mode)
        converted.putalpha(alpha)
        return converted
    if mode == "I;16":
        return Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)
    if mode == "P":
        return image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return image.convert(mode)


@st.composite
def png_drawings(draw) -> bytes:
    image = in_mode(draw(drawings()), draw(st.sampled_from(PNG_MODES)))
    return encode(image, "PNG", compress_level=draw(st.integers(0, 9)))


@st.composite
def jpeg_drawings(draw) -> bytes:
    image = in_mode(draw(drawings()), draw(st.sampled_from(JPEG_MODES)))
    return encode(image, "JPEG", quality=draw(st.integers(30, 95)),
                  progressive=draw(st.booleans()))
