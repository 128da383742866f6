"""fuzz_wire.sent_form_is_valid excuses the fuzzer's "invalid request accepted" failures, so
it must say "valid" only for forms that are valid as sent. Checked on real multipart bodies
(encoded by requests, as schemathesis sends them) against the gateway's own form schema."""

from __future__ import annotations

import pytest
import requests
from fuzz_wire import FILE, sent_form_is_valid, sent_parts

from sketch2idol.gateway.app import create_app

DOCUMENT = create_app().openapi()
FORM = DOCUMENT["components"]["schemas"][
    DOCUMENT["paths"]["/v1/faces"]["post"]["requestBody"]["content"]["multipart/form-data"][
        "schema"]["$ref"].rsplit("/", 1)[1]]
SKETCH = ("sketch", ("sketch.png", b"\x89PNG any bytes", "image/png"))


def sent(*parts) -> requests.PreparedRequest:
    return requests.Request("POST", "http://gateway/v1/faces", files=list(parts)).prepare()


def text(name: str, value: str):
    return (name, (None, value))


def test_parts_are_read_back_as_sent():
    assert sent_parts(sent(SKETCH, text("t", "0.5"), text("include", "guide"),
                           text("include", "refined"))) == {
        "sketch": [FILE], "t": ["0.5"], "include": ["guide", "refined"]}


@pytest.mark.parametrize("parts", [
    [SKETCH],
    [SKETCH, text("t", "0.25"), text("t_mouth", "1")],
    [SKETCH, text("t_nose", ".5"), text("t_left_eye", "+1e-3")],  # decimals a server may read
    [SKETCH, text("include", "guide , refined"), text("include", "")],
])
def test_forms_valid_as_sent(parts):
    assert sent_form_is_valid(sent(*parts), FORM)


@pytest.mark.parametrize("parts", [
    [],                                                       # no sketch
    [text("sketch", "not a file")],                           # sketch as text
    [SKETCH, text("t", "")],                                  # empty is not a number
    [SKETCH, text("t", "NaN")], [SKETCH, text("t", "Infinity")],
    [SKETCH, text("t", "true")], [SKETCH, text("t", "1.5")], [SKETCH, text("t", "abc")],
    [SKETCH, text("t", "0.5"), text("t", "0.5")],             # one number, sent twice
    [SKETCH, ("t", ("t.txt", b"0.5", "text/plain"))],        # a number sent as a file
    [SKETCH, text("include", "faces")],
    [SKETCH, text("colour", "red")],                          # not a field of the form
    [SKETCH, SKETCH],                                         # two drawings
])
def test_forms_invalid_as_sent(parts):
    assert not sent_form_is_valid(sent(*parts), FORM)


def test_only_multipart_bodies_are_read():
    json_request = requests.Request("POST", "http://gateway/v1/faces", json={"t": 0.5}).prepare()
    assert sent_parts(json_request) is None and not sent_form_is_valid(json_request, FORM)
