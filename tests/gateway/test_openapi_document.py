"""The gateway's OpenAPI document says what the gateway does (no server needed): every
refusal is the JSON error model, the face is a PNG or the JSON model (with the look it was
painted in), and the faces form's rules (numbers in [0, 1], no unknown fields, the `include`
syntax, the colours, look names and seeds) match the parsers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketch2idol.core.contract import LOOK_FIELDS
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.looks import NAMED_LOOKS, LookError, parse_hex
from sketch2idol.gateway.app import create_app
from sketch2idol.gateway.errors import ApiError
from sketch2idol.gateway.looks import COLOUR_PATTERN, SEED_MAX, read_seed
from sketch2idol.gateway.openapi import INCLUDE_PATTERN
from sketch2idol.gateway.uploads import INCLUDE_VALUES, include_set

DOCUMENT = create_app().openapi()
SCHEMAS = DOCUMENT["components"]["schemas"]
FACES = DOCUMENT["paths"]["/v1/faces"]["post"]
ERROR_REF = "#/components/schemas/ErrorBody"


def form_schema() -> dict:
    ref = FACES["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    return SCHEMAS[ref.rsplit("/", 1)[1]]


def test_the_error_model_is_a_code_and_a_sentence():
    error = SCHEMAS["ErrorBody"]
    assert set(error["required"]) == {"error", "detail"}
    assert {error["properties"][name]["type"] for name in ("error", "detail", "field")} == \
        {"string"}  # field: the form field at fault, when there is one


@pytest.mark.parametrize("path, method", [("/v1/faces", "post"), ("/readyz", "get")])
def test_every_refusal_is_documented_as_the_error_model(path, method):
    responses = DOCUMENT["paths"][path][method]["responses"]
    refusals = {status: response for status, response in responses.items() if status != "200"}
    assert refusals
    for status, response in refusals.items():
        assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, status


def test_the_faces_route_documents_the_statuses_it_answers():
    # The statuses the tests see it answer: unparseable body, too large, not PNG/JPEG,
    # bad fields or image, busy, Triton failing or down.
    assert {"200", "400", "413", "415", "422", "429", "502", "503"} <= set(FACES["responses"])


def test_the_face_is_a_png_or_the_json_model():
    content = FACES["responses"]["200"]["content"]
    assert set(content) == {"image/png", "application/json"}
    assert content["application/json"]["schema"]["$ref"] == "#/components/schemas/FaceJson"
    assert {"face", "timings_ms", "model", "look"} <= set(SCHEMAS["FaceJson"]["required"])


def test_the_answers_look_is_a_name_a_seed_and_every_colour():
    look = SCHEMAS["LookJson"]
    assert set(look["required"]) == {"name", "seed", *LOOK_FIELDS}
    assert look["properties"]["name"]["enum"] == [*NAMED_LOOKS, "random"]
    for field in LOOK_FIELDS:
        assert look["properties"][field]["pattern"] == "^#[0-9a-f]{6}$"
    named = SCHEMAS["NamedLook"]
    assert set(named["required"]) == {"name", *LOOK_FIELDS}
    looks = DOCUMENT["paths"]["/v1/looks"]["get"]["responses"]["200"]["content"]
    assert looks["application/json"]["schema"]["$ref"] == "#/components/schemas/Looks"


def test_the_form_takes_the_look_fields():
    properties = form_schema()["properties"]
    assert properties["look"]["enum"] == [*NAMED_LOOKS, "random"]
    assert (properties["seed"]["type"], properties["seed"]["minimum"],
            properties["seed"]["maximum"]) == ("integer", 0, SEED_MAX)
    assert float(SEED_MAX) == SEED_MAX  # a JSON Schema bound is a double: exact
    for field in LOOK_FIELDS:
        assert properties[field]["type"] == "string"
        assert properties[field]["pattern"] == COLOUR_PATTERN


def test_the_form_takes_a_png_or_jpeg_drawing_and_nothing_unknown():
    form = form_schema()
    assert form["required"] == ["sketch"] and form["additionalProperties"] is False
    encoding = FACES["requestBody"]["content"]["multipart/form-data"]["encoding"]
    assert encoding["sketch"]["contentType"] == "image/png, image/jpeg"


@pytest.mark.parametrize("field", ["t", *(f"t_{name}" for name in COMPONENTS)])
def test_every_blend_is_a_plain_number_in_the_unit_interval(field):
    schema = form_schema()["properties"][field]
    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("number", 0.0, 1.0)
    assert "anyOf" not in schema  # not `number or null`: a form field cannot carry a null


def include_accepted(value: str) -> bool:
    try:
        include_set([value])
    except ApiError:
        return False
    return True


INCLUDE_PIECES = (*INCLUDE_VALUES, "guid", "refinedx", "faces", ",", ",,", " ", "\t", "\n",
                  "\x1c", "\u2028", "\xa0", "")


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.sampled_from(INCLUDE_PIECES), max_size=8).map("".join))
def test_the_include_pattern_accepts_what_the_gateway_accepts(value):
    assert form_schema()["properties"]["include"]["items"]["pattern"] == INCLUDE_PATTERN
    assert (re.search(INCLUDE_PATTERN, value) is not None) == include_accepted(value), value


def colour_accepted(value: str) -> bool:
    try:
        parse_hex(value, "hair")
    except LookError:
        return False
    return True


COLOUR_PIECES = ("#", "##", "0", "9", "a", "F", "g", "ff", "abc", " ", "\t", "\n", "\x1c",
                 "\u2028", "\xa0", "\u0660", "x", "")


@settings(max_examples=400, deadline=None, database=None)
@given(st.one_of(st.lists(st.sampled_from(COLOUR_PIECES), max_size=9).map("".join),
                 st.from_regex(COLOUR_PATTERN, fullmatch=True)))
def test_the_colour_pattern_accepts_what_the_gateway_accepts(value):
    assert (re.search(COLOUR_PATTERN, value) is not None) == colour_accepted(value), repr(value)


def seed_accepted(value: str) -> bool:
    try:
        read_seed(value)
    except LookError:
        return False
    return True


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.integers(min_value=-10, max_value=2**64).map(str),
                 st.lists(st.sampled_from(("1", "0", "+", "-", ".", "5", "e", "_", " ", "\u0663",
                                           "x")), max_size=6).map("".join)))
def test_a_seed_is_read_only_when_it_is_a_whole_number_in_range(value):
    """What the gateway reads as a seed is what the form's integer schema (as schemathesis'
    wire reading, fuzz_wire.py, takes a part) allows: no `1_000`, `1e3`, `٣` or `-1`."""
    stripped = value.strip()
    plain = stripped.lstrip("+")
    expected = (plain.isascii() and plain.isdigit() and stripped.count("+") <= 1
                and int(plain) <= SEED_MAX)
    assert seed_accepted(value) == expected, repr(value)
