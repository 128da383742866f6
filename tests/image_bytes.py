"""Crafted image files for upload tests (generated, never checked-in blobs).

Importable from any test: tests/conftest.py puts this directory on sys.path.
"""

from __future__ import annotations

import io
import struct
import zlib

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
