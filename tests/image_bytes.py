"""Crafted image files for upload tests (generated, never checked-in blobs).

Importable from any test: tests/conftest.py puts this directory on sys.path.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height RGB pixels but carries no pixel data at all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def png_zero_bomb(side: int) -> bytes:
    """A *valid* side x side grey PNG of zeros: ~side^2 bytes decoded, ~side^2/1000 stored."""
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0 + zeros
    rows_per_block = max(1, (1 << 20) // len(row))
    parts = []
    for start in range(0, side, rows_per_block):
        parts.append(compressor.compress(row * min(rows_per_block, side - start)))
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts))
            + png_chunk(b"IEND", b""))


def png_raw(samples: np.ndarray, color_type: int) -> bytes:
    """A PNG written by hand from 8- or 16-bit samples [H, W] or [H, W, C] (filter 0, one
    IDAT): for layouts Pillow does not write, such as 16-bit RGB."""
    bit_depth = samples.dtype.itemsize * 8
    height, width = samples.shape[:2]
    rows = samples.astype(samples.dtype.newbyteorder(">")).reshape(height, -1).view(np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG."""
    chunks, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunks.append((kind, data[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return chunks


def png_with_bad_pixel_data(data: bytes) -> bytes:
    """The PNG with its pixel data replaced by bytes that are not zlib (CRCs all valid)."""
    parts = [png_chunk(kind, b"\x07not a zlib stream\x00" * 8 if kind == b"IDAT" else payload)
             for kind, payload in png_chunks(data)]
    return b"\x89PNG\r\n\x1a\n" + b"".join(parts)


def png_with_bad_crc(data: bytes) -> bytes:
    """The PNG with one bit of its header chunk flipped (so the chunk's CRC no longer fits)."""
    broken = bytearray(data)
    broken[8 + 8 + 4] ^= 0x01  # a bit of IHDR's width field
    return bytes(broken)


def zip_archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def jpeg_with_orientation(image: Image.Image, orientation: int, **options) -> bytes:
    """A JPEG whose EXIF Orientation tag is `orientation` (6: rotate 90° clockwise to view)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image.convert("RGB"), "JPEG", exif=exif, **options)


SVG_WITH_SCRIPT = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
                   b'width="256" height="256"><script>alert(document.cookie)</script>'
                   b'<circle cx="128" cy="128" r="100" stroke="black" fill="none"/></svg>\n')
HTML_PAGE = (b"<!DOCTYPE html><html><head><title>face</title></head><body>"
             b"<img src=x onerror=alert(1)></body></html>\n")
