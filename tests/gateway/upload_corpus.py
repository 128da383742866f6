"""The bad-input corpus: every odd or hostile upload the gateway is tested with, generated
here from one held-out sketch (no checked-in blobs), each with the answer it must get.

An `Upload` refused by the gateway names its status and JSON error code, and the form field
the answer must name when one field is at fault (`field`). One accepted names
how its face must compare with the face of the plain PNG of the same drawing: "same"
(lossless variants: identical pixels), "close" (JPEG variants) or "any" (a different
drawing: only a valid face is checked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np
from image_bytes import (
    HTML_PAGE,
    SVG_WITH_SCRIPT,
    encode,
    jpeg_with_orientation,
    png_header_only,
    png_raw,
    png_with_bad_crc,
    png_with_bad_pixel_data,
    png_zero_bomb,
    zip_archive,
)
from PIL import Image, PngImagePlugin
from raw_http import Answer, exchange, head, multipart

OVER_THE_LIMIT = 9 * 1024 * 1024  # the gateway's default limit is 8 MiB
#: A slow upload that completes: DRIP_PIECES pieces, DRIP_GAP_S apart (about 2.5 s).
DRIP_PIECES, DRIP_GAP_S = 10, 0.25

Sender = Callable[[str, np.ndarray], Answer]  # (gateway URL, the sketch) -> its answer


@dataclass(frozen=True)
class Upload:
    name: str
    send: Sender = field(repr=False)
    status: int
    code: str | None = None  # refusals: the JSON "error"
    field: str | None = None  # refusals of one form field: the JSON "field"
    face: str | None = None  # accepted: "same", "close" or "any"


# -- the bytes --------------------------------------------------------------------------------

def png(sketch: np.ndarray) -> bytes:
    return encode(Image.fromarray(sketch), "PNG")


def jpeg(sketch: np.ndarray, **options) -> bytes:
    return encode(Image.fromarray(sketch).convert("RGB"), "JPEG", quality=95, **options)


def png_16bit_grey(sketch: np.ndarray) -> bytes:
    return encode(Image.fromarray(sketch.astype(np.uint16) * 257), "PNG")


def png_16bit_rgb(sketch: np.ndarray) -> bytes:
    return png_raw(np.repeat((sketch.astype(np.uint16) * 257)[..., None], 3, axis=2), 2)


def png_palette(sketch: np.ndarray, transparent_paper: bool = False) -> bytes:
    image = Image.fromarray(sketch).convert("P")
    return encode(image, "PNG", transparency=255) if transparent_paper else encode(image, "PNG")


def png_grey_alpha(sketch: np.ndarray) -> bytes:
    """Ink opaque black, paper fully transparent."""
    la = np.stack([np.zeros_like(sketch), 255 - sketch], axis=2)
    return encode(Image.fromarray(la, "LA"), "PNG")


def png_with_script_text(sketch: np.ndarray) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    return encode(Image.fromarray(sketch), "PNG", pnginfo=info)


def polyglot(sketch: np.ndarray) -> bytes:
    """A valid PNG with a ZIP archive appended after its IEND chunk."""
    return png(sketch) + zip_archive({"payload.sh": b"#!/bin/sh\necho owned\n"})


def jpeg_cmyk(sketch: np.ndarray) -> bytes:
    return encode(Image.fromarray(sketch).convert("CMYK"), "JPEG", quality=95)


def jpeg_exif_rotated(sketch: np.ndarray) -> bytes:
    """Stored sideways, with EXIF Orientation 6 saying: turn 90° clockwise to view."""
    return jpeg_with_orientation(Image.fromarray(sketch).rotate(90, expand=True), 6,
                                 quality=95)


def strip(width: int, height: int) -> bytes:
    """A long thin canvas with one stroke along it."""
    canvas = np.full((height, width), 255, np.uint8)
    canvas[height // 2, width // 4:3 * width // 4] = 0
    return encode(Image.fromarray(canvas), "PNG")


def single_pixel(sketch: np.ndarray) -> bytes:
    return encode(Image.new("L", (1, 1), 0), "PNG")


def blank_canvas(sketch: np.ndarray) -> bytes:
    return encode(Image.new("L", sketch.shape[::-1], 255), "PNG")


def other_format(fmt: str) -> Callable[[np.ndarray], bytes]:
    return lambda sketch: encode(Image.fromarray(sketch).convert("RGB"), fmt)


# -- the ways of sending ---------------------------------------------------------------------

def post(url: str, **request) -> Answer:
    return Answer.of(httpx.post(f"{url}/v1/faces", timeout=60, **request))


def file_upload(make: Callable[[np.ndarray], bytes], fields: dict | None = None,
                filename: str = "sketch.png", content_type: str = "image/png") -> Sender:
    return lambda url, sketch: post(url, files={"sketch": (filename, make(sketch),
                                                           content_type)}, data=fields or {})


def with_fields(fields: dict) -> Sender:
    """A good drawing with these form fields."""
    return file_upload(png, fields)


def form(files: list | None = None, data: dict | None = None) -> Sender:
    """Any multipart form, files given as (field, (filename, bytes-maker, type)) pairs."""
    def send(url: str, sketch: np.ndarray) -> Answer:
        built = [(name, (filename, make(sketch), kind)) for name, (filename, make, kind)
                 in files or []]
        return post(url, files=built or None, data=data or {})
    return send


def body(content: bytes, content_type: str) -> Sender:
    return lambda url, sketch: post(url, content=content, headers={"Content-Type":
                                                                   content_type})


def streamed_over_the_limit(url: str, sketch: np.ndarray) -> Answer:
    """A well-formed multipart start, then megabytes without a Content-Length (chunked)."""
    def chunks():
        yield (b'--b\r\nContent-Disposition: form-data; name="sketch"; filename="s.png"\r\n'
               b"Content-Type: image/png\r\n\r\n")
        for _ in range(OVER_THE_LIMIT // (1024 * 1024) + 1):
            yield b"y" * (1024 * 1024)
    return post(url, content=chunks(),
                headers={"Content-Type": "multipart/form-data; boundary=b"})


def trickled(url: str, sketch: np.ndarray, pieces: int, gap_s: float,
             send_fraction: float = 1.0) -> Answer:
    """The multipart form of a good drawing, its body sent in `pieces` pieces `gap_s` apart;
    with `send_fraction` < 1 only that much of it is ever sent (a stalled upload)."""
    content, content_type = multipart(files={"sketch": ("sketch.png", png(sketch),
                                                        "image/png")})
    sent = content[:int(len(content) * send_fraction)]
    step = -(-len(sent) // pieces)
    return exchange(url, head("POST", "/v1/faces", url, {"Content-Type": content_type},
                              body_length=len(content)),
                    [sent[i:i + step] for i in range(0, len(sent), step)], gap_s,
                    timeout_s=60)


def slow_drip(url: str, sketch: np.ndarray) -> Answer:
    return trickled(url, sketch, DRIP_PIECES, DRIP_GAP_S)


def stalled(url: str, sketch: np.ndarray) -> Answer:
    return trickled(url, sketch, 2, 0.1, send_fraction=0.5)


def get_faces(url: str, sketch: np.ndarray) -> Answer:
    return Answer.of(httpx.get(f"{url}/v1/faces", timeout=30))


def refused(name: str, send: Sender, status: int, code: str,
            field: str | None = None) -> Upload:
    return Upload(name, send, status, code=code, field=field)


def accepted(name: str, send: Sender, face: str) -> Upload:
    return Upload(name, send, 200, face=face)


def file_refused(name: str, make: Callable[[np.ndarray], bytes], status: int,
                 code: str) -> Upload:
    return refused(name, file_upload(make), status, code)


CORPUS: tuple[Upload, ...] = (
    # -- not an image we decode ------------------------------------------------------------
    file_refused("zero bytes", lambda s: b"", 422, "empty"),
    file_refused("truncated PNG", lambda s: png(s)[:len(png(s)) // 2], 422, "truncated"),
    file_refused("truncated JPEG", lambda s: jpeg(s)[:len(jpeg(s)) // 2], 422, "truncated"),
    file_refused("JPEG signature then junk", lambda s: b"\xff\xd8\xff\xe0" + b"junk" * 50, 422,
                 "truncated"),
    file_refused("PNG pixel data not zlib", lambda s: png_with_bad_pixel_data(png(s)), 422,
                 "corrupt"),
    file_refused("PNG header with a bad CRC", lambda s: png_with_bad_crc(png(s)), 422,
                 "corrupt"),
    file_refused("GIF", other_format("GIF"), 415, "unsupported_format"),
    file_refused("TIFF", other_format("TIFF"), 415, "unsupported_format"),
    file_refused("WebP", other_format("WEBP"), 415, "unsupported_format"),
    file_refused("BMP", other_format("BMP"), 415, "unsupported_format"),
    file_refused("SVG with a script", lambda s: SVG_WITH_SCRIPT, 415, "unsupported_format"),
    file_refused("HTML page", lambda s: HTML_PAGE, 415, "unsupported_format"),
    file_refused("ZIP renamed .png", lambda s: zip_archive({"face.png": png(s)}), 415,
                 "unsupported_format"),
    file_refused("text named .png", lambda s: b"this is not an image, whatever its name says",
                 415, "unsupported_format"),
    # -- images no face can come from ------------------------------------------------------
    file_refused("PNG header claiming 30000x30000", lambda s: png_header_only(30000, 30000),
                 413, "too_many_pixels"),
    file_refused("PNG bomb: 5000x5000 zeros in 25 kB", lambda s: png_zero_bomb(5000), 413,
                 "too_many_pixels"),
    file_refused("1x1 PNG", single_pixel, 422, "too_small"),
    file_refused("blank canvas", blank_canvas, 422, "blank_drawing"),
    # -- the body ----------------------------------------------------------------------------
    refused("body over the limit (Content-Length)",
            body(b"x" * OVER_THE_LIMIT, "multipart/form-data; boundary=b"), 413, "too_large"),
    refused("body over the limit (chunked)", streamed_over_the_limit, 413, "too_large"),
    refused("stalled upload", stalled, 408, "request_timeout"),
    refused("not multipart: JSON", body(b'{"sketch": "face.png", "t": 0.5}',
                                        "application/json"), 422, "invalid_request"),
    refused("multipart without a boundary", body(b"--x\r\n\r\n", "multipart/form-data"), 400,
            "bad_request"),
    refused("GET instead of POST", get_faces, 405, "method_not_allowed"),
    # -- the form fields ---------------------------------------------------------------------
    refused("no sketch field", form(data={"t": "0.5"}), 422, "invalid_request"),
    refused("sketch under another name", form([("image", ("s.png", png, "image/png"))]), 422,
            "invalid_request"),
    refused("sketch as a text field", form(data={"sketch": "a face"}), 422,
            "invalid_request"),
    refused("two sketch files", form([("sketch", ("a.png", png, "image/png")),
                                      ("sketch", ("b.png", png, "image/png"))]), 422,
            "duplicate_field", "sketch"),
    refused("unknown field", with_fields({"colour": "red"}), 422, "unknown_field", "colour"),
    refused("t twice", with_fields({"t": ["0.5", "0.7"]}), 422, "duplicate_field", "t"),
    refused("t NaN", with_fields({"t": "nan"}), 422, "invalid_t", "t"),
    refused("t -1", with_fields({"t": "-1"}), 422, "invalid_t", "t"),
    refused("t 2", with_fields({"t": "2"}), 422, "invalid_t", "t"),
    refused("t abc", with_fields({"t": "abc"}), 422, "invalid_t", "t"),
    refused("t infinite", with_fields({"t": "inf"}), 422, "invalid_t", "t"),
    refused("t_mouth 1.5", with_fields({"t_mouth": "1.5"}), 422, "invalid_t", "t_mouth"),
    refused("include unknown", with_fields({"include": "faces"}), 422, "invalid_include",
            "include"),
    refused("include list with an unknown value", with_fields({"include": "refined,faces"}),
            422, "invalid_include", "include"),
    # -- the look fields -------------------------------------------------------------------
    refused("hair red", with_fields({"hair": "red"}), 422, "invalid_colour", "hair"),
    refused("skin #12345", with_fields({"skin": "#12345"}), 422, "invalid_colour", "skin"),
    refused("background2 empty", with_fields({"background2": ""}), 422, "invalid_colour",
            "background2"),
    refused("clothes with a script", with_fields({"clothes": "<script>alert(1)</script>"}),
            422, "invalid_colour", "clothes"),
    refused("look unknown", with_fields({"look": "sparkly"}), 422, "unknown_look", "look"),
    refused("look empty", with_fields({"look": ""}), 422, "unknown_look", "look"),
    refused("look twice", with_fields({"look": ["idol", "night"]}), 422, "duplicate_field",
            "look"),
    refused("seed -1", with_fields({"look": "random", "seed": "-1"}), 422, "invalid_seed",
            "seed"),
    refused("seed 1.5", with_fields({"seed": "1.5"}), 422, "invalid_seed", "seed"),
    refused("seed 2**53", with_fields({"seed": str(2**53)}), 422, "invalid_seed", "seed"),
    refused("seed abc", with_fields({"look": "random", "seed": "abc"}), 422, "invalid_seed",
            "seed"),
    # -- valid but unusual: accepted ---------------------------------------------------------
    accepted("plain PNG", file_upload(png), "same"),
    accepted("plain PNG, the default look named", file_upload(png, {"look": "idol"}), "same"),
    accepted("plain PNG, another look", file_upload(png, {"look": "night", "hair": "#FFCC00",
                                                          "seed": "7"}), "any"),
    accepted("plain PNG, a random look", file_upload(png, {"look": "random", "seed": "+12"}),
             "any"),
    accepted("16-bit grey PNG", file_upload(png_16bit_grey), "same"),
    accepted("16-bit RGB PNG", file_upload(png_16bit_rgb), "same"),
    accepted("palette PNG", file_upload(png_palette), "same"),
    accepted("palette PNG, transparent paper",
             file_upload(lambda s: png_palette(s, transparent_paper=True)), "same"),
    accepted("grey+alpha PNG, transparent paper", file_upload(png_grey_alpha), "same"),
    accepted("RGB PNG", file_upload(lambda s: encode(Image.fromarray(s).convert("RGB"), "PNG")),
             "same"),
    accepted("PNG with a script in a text chunk", file_upload(png_with_script_text), "same"),
    accepted("PNG/ZIP polyglot", file_upload(polyglot), "same"),
    accepted("PNG sent as image/jpeg named .jpg",
             file_upload(png, filename="s.jpg", content_type="image/jpeg"), "same"),
    accepted("slow drip over 2.5 s", slow_drip, "same"),
    accepted("grey JPEG", file_upload(lambda s: encode(Image.fromarray(s), "JPEG", quality=95),
                                      filename="s.jpg", content_type="image/jpeg"), "close"),
    accepted("CMYK JPEG", file_upload(jpeg_cmyk, filename="s.jpg", content_type="image/jpeg"),
             "close"),
    accepted("progressive JPEG", file_upload(lambda s: jpeg(s, progressive=True),
                                             filename="s.jpg", content_type="image/jpeg"),
             "close"),
    accepted("EXIF-rotated JPEG", file_upload(jpeg_exif_rotated, filename="s.jpg",
                                              content_type="image/jpeg"), "close"),
    accepted("10000x10 strip", file_upload(lambda s: strip(10_000, 10)), "any"),
    accepted("1000000x10 strip", file_upload(lambda s: strip(1_000_000, 10)), "any"),
)
