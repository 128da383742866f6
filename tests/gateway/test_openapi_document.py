"""The gateway's OpenAPI document says what the gateway does (no server needed): every
refusal is the JSON error model, the face is a PNG or the JSON model, and the faces form's
rules (numbers in [0, 1], no unknown fields, the `include` syntax) match the parsers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.app import create_app
from client.errors import ApiError
from client.openapi import INCLUDE_PATTERN
from client.uploads import INCLUDE_VALUES, include_set
from sketch2idol.geometry import COMPONENTS

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
    assert {error["properties"][name]["type"] for name in ("error", "detail")} == {"string"}


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
    assert {"face", "timings_ms", "model"} <= set(SCHEMAS["FaceJson"]["required"])


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
