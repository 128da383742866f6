"""The bad-input corpus (tests/gateway/upload_corpus.py) against a real gateway in front of
the real Triton: every upload gets its documented status and JSON reason, the unusual but
valid images give the face their plain PNG gives, and afterwards the gateway is up, its log
holds the refusals at INFO/WARNING and no traceback, and no error body shows an internal path.

The corpus runs once, against a gateway of its own (so its log holds only the corpus): a
6 s request deadline so the stalled upload is cut off quickly, no per-client rate limit
(the corpus is one client sending ~55 requests back to back).
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter

import httpx
import numpy as np
import pytest
from gateway_process import start_gateway
from leaks import internal_details
from PIL import Image
from upload_corpus import CORPUS, Upload, png

from sketch2idol.export.samples import HELDOUT_SEED, render_sketches

DEADLINE_S = 6.0
CORPUS_ENV = {"S2I_REQUEST_DEADLINE_S": str(DEADLINE_S), "S2I_RATE_LIMIT_PER_S": "0"}
#: Mean |difference| allowed between a JPEG variant's face and the plain PNG's face.
JPEG_TOLERANCE = 8.0
REFUSED = [upload for upload in CORPUS if upload.status != 200]
ACCEPTED = [upload for upload in CORPUS if upload.status == 200]


@pytest.fixture(scope="module")
def sketch() -> np.ndarray:
    return render_sketches(HELDOUT_SEED, 1, 256)[0]


@pytest.fixture(scope="module")
def corpus_gateway(triton_server, exported_repository, tmp_path_factory):
    repository, _ = exported_repository
    log = tmp_path_factory.mktemp("corpus_gateway") / "gateway.log"
    process, url = start_gateway(triton_server.grpc_address, repository, log, env=CORPUS_ENV)
    yield process, url, log
    process.stop()


@pytest.fixture(scope="module")
def answers(corpus_gateway, sketch) -> dict:
    """Every corpus upload sent once, in order: name -> Answer (or the exception it raised)."""
    _, url, _ = corpus_gateway
    results = {}
    for upload in CORPUS:
        try:
            results[upload.name] = upload.send(url, sketch)
        except Exception as error:  # noqa: BLE001 - reported by the upload's own test
            results[upload.name] = error
    return results


@pytest.fixture(scope="module")
def plain_face(answers) -> np.ndarray:
    return face_pixels(answer_of(answers, "plain PNG").body)


def answer_of(answers: dict, name: str):
    answer = answers[name]
    if isinstance(answer, Exception):
        pytest.fail(f"{name}: no answer: {answer!r}")
    return answer


def face_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_the_corpus_is_large_and_covers_the_issue():
    assert len(CORPUS) >= 30 and len({upload.name for upload in CORPUS}) == len(CORPUS)
    codes = {upload.code for upload in REFUSED}
    assert {"empty", "truncated", "corrupt", "too_many_pixels", "unsupported_format",
            "too_large", "request_timeout", "invalid_t", "invalid_include", "unknown_field",
            "duplicate_field", "invalid_colour", "unknown_look", "invalid_seed"} <= codes


@pytest.mark.parametrize("upload", REFUSED, ids=lambda upload: upload.name)
def test_a_bad_upload_gets_its_status_and_reason(answers, upload: Upload):
    answer = answer_of(answers, upload.name)
    assert answer.status == upload.status, answer.body[:300]
    assert answer.headers["content-type"].startswith("application/json")
    body = json.loads(answer.body)
    assert set(body) == {"error", "detail"} | ({"field"} if upload.field else set()), body
    assert body["error"] == upload.code and len(body["detail"]) > 15, body
    assert body.get("field") == upload.field, body


def test_the_stalled_upload_is_cut_off_at_the_deadline(answers):
    answer = answer_of(answers, "stalled upload")
    assert DEADLINE_S - 0.5 < answer.seconds < DEADLINE_S + 5, answer.seconds
    assert answer.headers.get("connection") == "close"


def test_named_fields_and_limits_are_in_the_reason(answers):
    detail = {upload.name: json.loads(answer_of(answers, upload.name).body)["detail"]
              for upload in REFUSED}
    assert "sketch" in detail["no sketch field"]
    assert "sketch" in detail["sketch under another name"]
    assert "colour" in detail["unknown field"]
    assert "t " in detail["t twice"] and "2 times" in detail["t twice"]
    assert "t_mouth" in detail["t_mouth 1.5"] and "1.5" in detail["t_mouth 1.5"]
    assert "faces" in detail["include unknown"]
    assert "900,000,000 pixels" in detail["PNG header claiming 30000x30000"]
    assert "1x1" in detail["1x1 PNG"]
    assert f"{DEADLINE_S:g} s" in detail["stalled upload"]
    assert "8,388,608" in detail["body over the limit (Content-Length)"]
    assert detail["hair red"] == "hair: 'red' is not a colour; use #rrggbb"
    assert "idol" in detail["look unknown"] and "random" in detail["look unknown"]
    assert detail["seed -1"].startswith("seed: must be a whole number from 0 to ")


@pytest.mark.parametrize("upload", ACCEPTED, ids=lambda upload: upload.name)
def test_an_unusual_but_valid_image_makes_a_face(answers, plain_face, upload: Upload):
    answer = answer_of(answers, upload.name)
    assert answer.status == 200, answer.body[:300]
    assert answer.headers["content-type"] == "image/png"
    face = face_pixels(answer.body)
    assert face.shape == plain_face.shape and face.dtype == np.uint8
    difference = np.abs(face.astype(np.int16) - plain_face.astype(np.int16)).mean()
    if upload.face == "same":
        assert difference == 0, difference
    elif upload.face == "close":
        assert difference < JPEG_TOLERANCE, difference
    else:
        assert upload.face == "any" and face.std() > 5  # a picture, not a flat fill


def test_the_gateway_is_still_up_after_the_corpus(answers, corpus_gateway, sketch, plain_face):
    process, url, _ = corpus_gateway
    assert process.alive()
    assert httpx.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
    assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    again = httpx.post(f"{url}/v1/faces", files={"sketch": ("s.png", png(sketch), "image/png")},
                       timeout=60)
    assert again.status_code == 200
    np.testing.assert_array_equal(face_pixels(again.content), plain_face)


def test_refusals_are_logged_at_info_or_warning_without_tracebacks(answers, corpus_gateway):
    log = corpus_gateway[2].read_text()
    assert "Traceback" not in log
    assert not re.search(r"^(ERROR|CRITICAL)", log, re.MULTILINE), log[-3000:]
    logged = Counter(re.findall(r"^(?:INFO|WARNING):\s+rejected (\w+)", log, re.MULTILINE))
    assert logged == Counter(upload.code for upload in REFUSED)  # each once, none twice


def test_no_error_body_reveals_internals(answers, triton_server):
    internal = (triton_server.grpc_address, triton_server.http_address,
                f":{triton_server.ports['grpc']}")
    for upload in REFUSED:
        text = answer_of(answers, upload.name).body.decode("utf-8", "replace")
        assert internal_details(text, internal) == [], (upload.name, text)
