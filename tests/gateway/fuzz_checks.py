"""The fuzzer's own checks, run beside schemathesis' built-in ones on every response.

- `schema_valid_requests_succeed`: schemathesis' positive_data_acceptance made exact. A
  schema-valid request gets 200, except that a damaged drawing (still schema-valid: the
  schema can only say "a binary PNG or JPEG part") may instead be refused with 413/415/422.
- `invalid_requests_are_refused`: schemathesis' negative_data_rejection, except for a case
  that went over the wire as a schema-valid form (fuzz_wire.py): a server may accept that.
- `faces_are_pngs`: a 200 from POST /v1/faces carries the face as a PNG of the model's
  size, raw (image/png) or base64 in the JSON, and the JSON's other images are PNGs too.
- `looks_are_what_was_asked`: a JSON 200 from POST /v1/faces reports the look the request
  asked for: each colour field it sent (as #rrggbb, lower case), its look name (a seed
  alone: random, nothing: idol), the seed of a random look; X-Look says the same.

A check returns None when it holds and raises AssertionError (a reported failure) when not.
`ALLOWANCES` counts the cases the second allowance let through, for the run's summary.
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter

from fuzz_damage import was_damaged
from fuzz_wire import sent_form_is_valid
from PIL import Image
from schemathesis.checks import negative_data_rejection
from schemathesis.core.failures import AcceptedNegativeData

from sketch2idol.core.contract import LOOK_FIELDS
from sketch2idol.core.looks import DEFAULT_LOOK, RANDOM_LOOK, parse_hex, to_hex

FACE_SIZE = 256
FACES_PATH = "/v1/faces"
#: What a damaged drawing may get: decoded after all, too large, not a PNG/JPEG, unreadable.
DAMAGED_ANSWERS = {200, 413, 415, 422}
ALLOWANCES: Counter = Counter()


def sketch_of(case) -> bytes | None:
    """The bytes of the case's `sketch` part, if it has one."""
    body = case.body if isinstance(case.body, dict) else {}
    sketch = body.get("sketch")
    sketch = getattr(sketch, "data", sketch)  # schemathesis may wrap bytes in `Binary`
    return sketch if isinstance(sketch, bytes) else None


def damaged_upload(case) -> bool:
    sketch = sketch_of(case)
    return sketch is not None and was_damaged(sketch)


def schema_valid_requests_succeed(ctx, response, case) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    expected = DAMAGED_ANSWERS if damaged_upload(case) else {200}
    assert response.status_code in expected, (
        f"a schema-valid request{' with a damaged drawing' if damaged_upload(case) else ''} "
        f"got {response.status_code}, expected one of {sorted(expected)}: "
        f"{response.content[:200]!r}")


def form_schema(case) -> dict | None:
    """The JSON schema of the operation's multipart form, if it takes one."""
    document = case.operation.schema.raw_schema
    operation = document["paths"][case.operation.path][case.operation.method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("multipart/form-data", {}).get("schema")
    if schema is None:
        return None
    name = schema["$ref"].rsplit("/", 1)[1]
    return document["components"]["schemas"][name]


def invalid_requests_are_refused(ctx, response, case) -> None:
    try:
        negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        form = form_schema(case)
        if form is None or not sent_form_is_valid(response.request, form):
            raise
        ALLOWANCES["schema-violating case sent as a valid form, accepted"] += 1


def png_of_the_face(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG", f"the face is {image.format}, not a PNG"
    assert image.size == (FACE_SIZE, FACE_SIZE) and image.mode == "RGB", (
        f"the face is {image.size} {image.mode}, not {FACE_SIZE}² RGB")


def faces_are_pngs(ctx, response, case) -> None:
    if response.status_code != 200 or case.operation.path != FACES_PATH:
        return
    content_type = response.headers.get("content-type", [""])[0]
    if content_type.startswith("image/png"):
        png_of_the_face(response.content)
        return
    body = json.loads(response.content)
    png_of_the_face(base64.b64decode(body["face"], validate=True))
    for extra in ("refined", "guide"):
        if body.get(extra) is not None:
            extra_image = Image.open(io.BytesIO(base64.b64decode(body[extra], validate=True)))
            assert extra_image.format == "PNG", f"{extra} is {extra_image.format}, not a PNG"


def sent_fields(case) -> dict[str, str]:
    """The case's single-valued text fields as they go over the wire (a list or a null may
    be sent as something else, fuzz_wire.py: left out)."""
    body = case.body if isinstance(case.body, dict) else {}
    return {name: value if isinstance(value, str) else json.dumps(value)
            for name, value in body.items()
            if name != "sketch" and value is not None and not isinstance(value, list | dict)}


def looks_are_what_was_asked(ctx, response, case) -> None:
    if response.status_code != 200 or case.operation.path != FACES_PATH:
        return
    content_type = response.headers.get("content-type", [""])[0]
    header = response.headers.get("x-look", [""])[0]
    if not content_type.startswith("application/json"):
        assert header, "a face without X-Look"
        return
    look = json.loads(response.content)["look"]
    sent = sent_fields(case)
    for field in LOOK_FIELDS:
        if field in sent:
            assert look[field] == to_hex(parse_hex(sent[field])), (field, sent[field], look)
    if "background" in sent and "background2" not in sent:
        assert look["background2"] == look["background"], look
    name = sent.get("look") or (RANDOM_LOOK if "seed" in sent else DEFAULT_LOOK)
    assert look["name"] == name, (sent, look)
    if name == RANDOM_LOOK:
        assert isinstance(look["seed"], int), look
        if "seed" in sent:
            assert look["seed"] == int(sent["seed"].strip().lstrip("+")), (sent, look)
        assert header == f"{RANDOM_LOOK} seed={look['seed']}", header
    else:
        assert look["seed"] is None and header == name, (look, header)


CHECKS = [schema_valid_requests_succeed, invalid_requests_are_refused, faces_are_pngs,
          looks_are_what_was_asked]
