"""What the schemathesis run (test_fuzz_schema.py) found, kept as plain regression tests
against the real gateway."""

from __future__ import annotations

import httpx
import pytest
from image_bytes import encode
from PIL import Image

from sketch2idol.export.samples import HELDOUT_SEED, render_sketches


@pytest.fixture(scope="module")
def sketch_png() -> bytes:
    return encode(Image.fromarray(render_sketches(HELDOUT_SEED, 1, 256)[0]), "PNG")


@pytest.mark.parametrize("field", ["t", "t_mouth"])
def test_an_empty_blend_is_refused_not_read_as_the_default(gateway_url, sketch_png, field):
    """Found by the fuzzer: FastAPI reads an empty form value as "not given", so `t=` got
    the default blend and a 200 although the schema (and the README) say `t` is a number."""
    response = httpx.post(f"{gateway_url}/v1/faces", data={field: ""}, timeout=60,
                          files={"sketch": ("sketch.png", sketch_png, "image/png")})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_t" and body["detail"].startswith(f"{field} must be a number")
