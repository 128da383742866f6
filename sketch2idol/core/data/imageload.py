"""Bytes from outside -> RGB uint8 pixels, safely. Shared by `data ingest` and the gateway.

`load_image` never trusts a file name: it recognises the format from the first bytes, checks
the byte count and then the pixel count that the header claims *before* any pixel is
decoded (Pillow's `Image.open` reads only the header), so a decompression bomb costs a few
hundred bytes of work, not gigabytes. Whatever comes in (EXIF-rotated JPEG, RGBA, palette,
16-bit grey, CMYK) comes out upright as a C-contiguous uint8 array [H, W, 3]; transparent
pixels are composited onto white.

Every refusal is one exception class, `ImageRejected`, with a short machine code for logs
and counters (`reason`) and a sentence for people (`detail`).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Formats `load_image` can recognise, keyed by Pillow format name.
KNOWN_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
#: What photo ingestion accepts.
INGEST_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})

#: Reason codes, for callers that count or translate them.
REASONS = ("empty", "too_large", "too_many_pixels", "unsupported_format", "corrupt", "truncated")


class ImageRejected(ValueError):
    """The bytes are not an image we will decode; `reason` is a code, `detail` a sentence."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def sniff_format(data: bytes) -> str | None:
    """The image format the leading bytes announce (a Pillow format name), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def looks_truncated(data: bytes, fmt: str) -> bool:
    """True if the file visibly stops early: no PNG IEND chunk, no JPEG end-of-image
    marker, fewer bytes than the WebP RIFF header announces."""
    if fmt == "PNG":
        return b"IEND" not in data
    if fmt == "JPEG":
        return b"\xff\xd9" not in data
    if fmt == "WEBP":
        return len(data) < 8 + int.from_bytes(data[4:8], "little")
    return False


def _failure(data: bytes, fmt: str, error: BaseException, stage: str) -> ImageRejected:
    text = str(error)
    if isinstance(error, UnidentifiedImageError):
        text = "unrecognised header"
    if looks_truncated(data, fmt) or isinstance(error, EOFError) or "truncated" in text:
        return ImageRejected("truncated", f"the {fmt} file stops before its end ({text})")
    return ImageRejected("corrupt", f"the {fmt} {stage} cannot be decoded ({text})")


_DECODE_ERRORS = (UnidentifiedImageError, SyntaxError, ValueError, OSError, EOFError,
                  IndexError, KeyError, TypeError, struct.error, zlib.error)


def _open_header(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    """Parse the header only (no pixel data is decoded here)."""
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel limit right after this; Pillow's warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as error:
        # Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS) fired before ours could.
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        count = f"{int(claimed.group(1)):,}" if claimed else "too many"
        raise ImageRejected("too_many_pixels", f"the {fmt} header says {count} pixels; the "
                            f"limit is {max_pixels:,}") from None
    except _DECODE_ERRORS as error:
        raise _failure(data, fmt, error, "header") from None


def _decode(image: Image.Image, data: bytes, fmt: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except (*_DECODE_ERRORS, Image.DecompressionBombError) as error:
        raise _failure(data, fmt, error, "pixel data") from None


def _flatten_on_white(image: Image.Image) -> Image.Image:
    """Composite an image with alpha over a white background (in Pillow, 8-bit, no float
    copy of a possibly huge picture)."""
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")


def _high_depth_grey(image: Image.Image) -> np.ndarray:
    """16-bit / 32-bit integer or float grey -> uint8 [H, W], scaled, not clipped."""
    values = np.asarray(image)
    if values.dtype.kind == "f":
        top = 1.0 if values.size and float(np.nanmax(values)) <= 1.0 else 255.0
        scaled = np.nan_to_num(values.astype(np.float64)) * (255.0 / top)
    else:
        # PNG/TIFF 16-bit samples span 0..65535 whatever Pillow's mode name ("I;16", "I").
        scaled = values.astype(np.float64) * (255.0 / 65535.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """A decoded Pillow image in any mode -> C-contiguous uint8 RGB [H, W, 3]."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        grey = _high_depth_grey(image)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    has_alpha = (mode in ("RGBA", "LA", "PA", "RGBa", "La")
                 or (mode in ("P", "L", "RGB") and "transparency" in image.info))
    if has_alpha:
        image = _flatten_on_white(image)
    elif mode != "RGB":
        image = image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def load_image(data: bytes, *, max_bytes: int, max_pixels: int,
               formats: frozenset[str] | tuple[str, ...] = INGEST_FORMATS) -> np.ndarray:
    """Decode untrusted image bytes into an upright uint8 RGB array [H, W, 3].

    Checks, in order, before decoding any pixel: not empty, at most `max_bytes`, a format
    in `formats` recognised by content, a readable header, width x height at most
    `max_pixels`. Pillow's own bomb limit (2 x `Image.MAX_IMAGE_PIXELS`, ~179 MP) also
    applies, as `too_many_pixels`. Raises `ImageRejected` for anything it will not decode.
    """
    if not data:
        raise ImageRejected("empty", "the file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"the file has {len(data):,} bytes; the limit is "
                            f"{max_bytes:,}")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected("unsupported_format", "the content is not a recognised image "
                            f"format (expected one of {', '.join(sorted(formats))})")
    if fmt not in formats:
        raise ImageRejected("unsupported_format", f"{fmt} images are not accepted here "
                            f"(expected one of {', '.join(sorted(formats))})")
    image = _open_header(data, fmt, max_pixels)
    try:
        width, height = image.size
        if width < 1 or height < 1:
            raise ImageRejected("corrupt", f"the {fmt} header gives an empty size "
                                f"{width}x{height}")
        if width * height > max_pixels:
            raise ImageRejected("too_many_pixels", f"the {fmt} header says {width}x{height} = "
                                f"{width * height:,} pixels; the limit is {max_pixels:,}")
        _decode(image, data, fmt)
        try:
            upright = ImageOps.exif_transpose(image)
        except Exception:  # a malformed EXIF block must not cost us a good photo
            upright = image
        return to_rgb_array(upright if upright is not None else image)
    finally:
        image.close()
