"""load_image: untrusted bytes -> upright RGB uint8, or ImageRejected with a reason code."""

import io
import resource
import time
import tracemalloc
import warnings

import cv2
import numpy as np
import pytest
from image_bytes import encode, png_header_only, png_zero_bomb
from PIL import Image

from sketch2idol.core.data.imageload import INGEST_FORMATS, ImageRejected, load_image, sniff_format

LIMITS = {"max_bytes": 20_000_000, "max_pixels": 20_000_000}


def reason_of(data: bytes, **overrides) -> str:
    with pytest.raises(ImageRejected) as info:
        load_image(data, **{**LIMITS, **overrides})
    assert len(info.value.detail) > 10  # a sentence for people, beside the code
    return info.value.reason


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """An upright, non-square RGB test picture with a red block in the top-left corner."""
    rng = np.random.default_rng(0)
    pixels = np.full((40, 60, 3), 200, np.uint8)
    pixels[:, :, 2] = np.linspace(0, 255, 60).astype(np.uint8)[None, :]
    pixels[5:15, 5:15] = (255, 0, 0)
    pixels[30:, 45:] = rng.integers(0, 255, (10, 15, 3))
    return Image.fromarray(pixels)


@pytest.mark.parametrize("fmt", sorted(INGEST_FORMATS))
def test_allowed_formats_load_as_rgb_uint8(photo, fmt):
    options = {"lossless": True} if fmt == "WEBP" else {"quality": 95} if fmt == "JPEG" else {}
    rgb = load_image(encode(photo, fmt, **options), **LIMITS)
    assert rgb.shape == (40, 60, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    tolerance = 12 if fmt == "JPEG" else 0
    assert np.abs(rgb.astype(int) - np.asarray(photo, dtype=int)).mean() <= tolerance
    assert sniff_format(encode(photo, fmt)) == fmt


@pytest.mark.parametrize("orientation, rotate", [(6, 90), (8, -90), (3, 180)])
def test_exif_orientation_is_applied(photo, orientation, rotate):
    # Store the picture turned the other way and tag it so that a viewer turns it upright:
    # 6 = "rotate 90 clockwise to display", 8 = "90 counter-clockwise", 3 = "180".
    stored = photo.rotate(rotate, expand=True)  # PIL rotates counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).size == stored.size  # really stored sideways
    rgb = load_image(data, **LIMITS)
    assert rgb.shape == (40, 60, 3)
    red, green, blue = rgb[10, 10].tolist()
    assert red > 200 and green < 80 and blue < 80  # the red block is top-left again
    assert np.abs(rgb.astype(int) - np.asarray(photo, dtype=int)).mean() < 12


def test_rgba_is_flattened_onto_white():
    rgba = np.zeros((10, 30, 4), np.uint8)
    rgba[:, :10] = (255, 0, 0, 0)  # fully transparent red -> white
    rgba[:, 10:20] = (0, 0, 255, 255)  # opaque blue
    rgba[:, 20:] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    rgb = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), **LIMITS)
    assert rgb.shape == (10, 30, 3) and rgb.dtype == np.uint8
    assert rgb[5, 5].tolist() == [255, 255, 255]
    assert rgb[5, 15].tolist() == [0, 0, 255]
    assert np.abs(rgb[5, 25].astype(int) - 127).max() <= 1


def test_palette_images_with_and_without_transparency(photo):
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    rgb = load_image(encode(palette, "PNG"), **LIMITS)
    assert rgb.shape == (40, 60, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb, np.asarray(palette.convert("RGB")))

    index = palette.getpixel((10, 10))  # the red block's palette entry
    data = encode(palette, "PNG", transparency=index)
    rgb = load_image(data, **LIMITS)
    assert rgb[10, 10].tolist() == [255, 255, 255]  # transparent -> white
    assert rgb[35, 2].tolist() != [255, 255, 255]


def test_sixteen_bit_grey_is_scaled_not_clipped():
    ramp = np.linspace(0, 65535, 256).astype(np.uint16)[None, :].repeat(4, axis=0)
    data = encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    rgb = load_image(data, **LIMITS)
    assert rgb.dtype == np.uint8 and rgb.shape == (4, 256, 3)
    assert rgb[0, 0].tolist() == [0, 0, 0] and rgb[0, -1].tolist() == [255, 255, 255]
    assert abs(int(rgb[0, 128, 0]) - 128) <= 1  # linear, so the middle stays in the middle


def test_sixteen_bit_rgb_png_loads():
    pixels = np.zeros((8, 8, 3), np.uint16)
    pixels[..., 0] = 65535  # red (RGB order)
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    assert ok
    rgb = load_image(buffer.tobytes(), **LIMITS)
    assert rgb.dtype == np.uint8 and rgb[0, 0].tolist() == [255, 0, 0]


def test_cmyk_and_grey_jpegs_load_as_rgb():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    rgb = load_image(encode(cmyk, "JPEG", quality=95), **LIMITS)
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb[8, 8].astype(int) - (255, 0, 0)).max() < 10

    grey = Image.new("L", (16, 16), 77)
    rgb = load_image(encode(grey, "JPEG", quality=95), **LIMITS)
    assert rgb.shape == (16, 16, 3) and np.abs(rgb.astype(int) - 77).max() <= 2


def test_reason_codes(photo):
    jpeg = encode(photo.resize((300, 200)), "JPEG", quality=90)
    png = encode(photo.resize((300, 200)), "PNG")
    webp = encode(photo.resize((300, 200)), "WEBP", quality=90)
    assert reason_of(b"") == "empty"
    assert reason_of(png, max_bytes=len(png) - 1) == "too_large"
    assert reason_of(b"just some text\n" * 10) == "unsupported_format"
    assert reason_of(np.random.default_rng(1).bytes(5000)) == "unsupported_format"
    assert reason_of(encode(photo, "GIF")) == "unsupported_format"  # known but not allowed
    assert load_image(encode(photo, "GIF"), formats={"GIF"}, **LIMITS).shape == (40, 60, 3)
    assert reason_of(encode(photo, "BMP")) == "unsupported_format"
    for data in (jpeg, png, webp):
        assert reason_of(data[: len(data) * 6 // 10]) == "truncated"
    assert reason_of(png[:30]) == "truncated"  # cut inside the header
    corrupt = bytearray(png)
    start = png.index(b"IDAT") + 4
    corrupt[start:start + 64] = bytes(64)  # zlib stream header and data destroyed
    assert reason_of(bytes(corrupt)) == "corrupt"
    assert reason_of(png_header_only(100, 100)) == "corrupt"  # no pixel data at all
    assert reason_of(png, max_pixels=300 * 200 - 1) == "too_many_pixels"
    assert load_image(png, max_bytes=len(png), max_pixels=300 * 200).shape == (200, 300, 3)


@pytest.mark.parametrize("width, height", [(30000, 30000), (9000, 9000)])
def test_header_pixel_bomb_is_rejected_before_decoding(width, height):
    # 30000^2 trips Pillow's own hard limit first, 9000^2 only ours (max_pixels=20M). Had
    # anything tried to decode, the missing pixel data would give "truncated"/"corrupt".
    data = png_header_only(width, height)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        reason = reason_of(data)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reason == "too_many_pixels"
    assert elapsed < 0.05 and peak < 1_000_000


def test_valid_decompression_bomb_does_not_allocate():
    data = png_zero_bomb(12000)  # 144 MB of pixels in ~140 kB of file
    assert len(data) < 1_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as header:
            assert header.size == (12000, 12000)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    with pytest.raises(ImageRejected) as info:
        load_image(data, max_bytes=10_000_000, max_pixels=50_000_000)
    elapsed = time.perf_counter() - started
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert info.value.reason == "too_many_pixels"
    assert "12000x12000" in info.value.detail
    assert elapsed < 0.05, f"took {elapsed:.3f} s: the pixels were decoded"
    assert rss_growth_mb < 50, f"peak memory grew by {rss_growth_mb:.0f} MB"
