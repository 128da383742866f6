"""Schemathesis against the gateway's OpenAPI document, sent to the real gateway process in
front of the real Triton.

Every operation in /openapi.json (POST /v1/faces, GET /v1/looks, GET /v1/config, GET /healthz,
GET /readyz) is fuzzed with schema-valid (positive) and schema-violating (negative) requests,
through schemathesis' coverage and fuzzing phases, and every response must

- not be a 5xx (Triton is up, so not even 503),
- have a documented status code, content type, headers and (JSON) body,
- be 200 when the request is schema-valid: the `sketch` part of a valid request is a real
  PNG or JPEG drawing (fuzz_drawings.py), of the content types the form's encoding declares;
  about a third are damaged (fuzz_damage.py) and may instead get a clean 413/415/422,
- be 400/413/415/422 when the request violates the schema (as sent: fuzz_wire.py),
- (200 only) carry the face as a PNG of the model's size, raw or base64 in the JSON, and
  (JSON) the look the request asked for: its colour fields, its look name, its seed
  (fuzz_checks.py).

Knobs: S2I_FUZZ_CASES (generated cases per operation in the fuzzing phase, default 200; the
coverage phase adds its own), S2I_FUZZ_SEED (reproduce a run), S2I_FUZZ_SUMMARY (write a
JSON summary there; `make fuzz` does, with a long run).

The document is built from `create_app()` when the module is collected (schemathesis makes one
test per operation then, before any server runs; its `from_fixture` loader, which would
fetch it from the running gateway, fails on pytest 9.2's nodes); the first test holds the
served /openapi.json to it.
"""

from __future__ import annotations

import json
import os
import random
import zlib
from pathlib import Path

import httpx
import pytest
import schemathesis
from fuzz_checks import ALLOWANCES, CHECKS, damaged_upload
from fuzz_damage import sometimes_damaged
from fuzz_drawings import heldout_sketches, jpeg_drawings, png_drawings
from fuzz_ledger import FuzzLedger
from gateway_process import start_gateway
from schemathesis.config import SchemathesisConfig

from sketch2idol.gateway.app import create_app

CASES = int(os.environ.get("S2I_FUZZ_CASES", "200"))
SEED = int(os.environ.get("S2I_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
SUMMARY = os.environ.get("S2I_FUZZ_SUMMARY")
OPERATIONS = {"GET /healthz", "GET /readyz", "GET /v1/looks", "GET /v1/config",
              "POST /v1/faces"}
# What a client may send as Accept; only application/json switches the faces to JSON.
ACCEPTS = ("*/*", "image/png", "application/json", "application/json, image/png;q=0.5",
           "text/html")

# The `sketch` part of a schema-valid request: a drawing of the declared content type.
schemathesis.openapi.media_type("image/png", sometimes_damaged(png_drawings()))
schemathesis.openapi.media_type("image/jpeg", sometimes_damaged(jpeg_drawings()))


def fuzz_config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "request-timeout": 60,
        "generation": {"mode": "all", "max-examples": CASES, "database": "none",
                       "unique-inputs": True},
        "checks": {
            # Replaced by fuzz_checks.schema_valid_requests_succeed (200, or a clean
            # refusal of a damaged drawing).
            "positive_data_acceptance": {"enabled": False},
            # Run by fuzz_checks.invalid_requests_are_refused (what was sent decides).
            "negative_data_rejection": {"enabled": False,
                                        "expected-statuses": ["400", "413", "415", "422"]},
        },
    })


@pytest.fixture(scope="module")
def fuzz_gateway_url(triton_server, exported_repository, tmp_path_factory):
    """A gateway of its own in front of the session's Triton, without the per-client rate
    limit: the fuzzer sends requests as fast as they are answered, which would otherwise
    spend the limit (a documented 429) for itself and for the tests that share a gateway."""
    repository, _ = exported_repository
    log = tmp_path_factory.mktemp("fuzz_gateway") / "gateway.log"
    process, url = start_gateway(triton_server.grpc_address, repository, log,
                                 env={"S2I_RATE_LIMIT_PER_S": "0"})
    heldout_sketches()  # rendered (and torch imported) now, not inside a timed draw
    yield url
    process.stop()


@pytest.fixture(scope="module")
def ledger():
    ledger = FuzzLedger()
    yield ledger
    if SUMMARY:
        summary = ledger.write(Path(SUMMARY), seed=SEED, cases_per_operation=CASES,
                               schemathesis=schemathesis.__version__,
                               allowances=dict(ALLOWANCES))
        print(json.dumps(summary, indent=2))


DOCUMENT = create_app().openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=fuzz_config())


def test_the_gateway_serves_this_document(fuzz_gateway_url):
    served = httpx.get(f"{fuzz_gateway_url}/openapi.json", timeout=10)
    assert served.status_code == 200 and served.json() == DOCUMENT


def accept_header(case) -> str:
    """An Accept value that is a function of the case, so a replayed case is the same request
    (a `schema.given` strategy would switch off schemathesis' coverage phase)."""
    return ACCEPTS[zlib.crc32(repr(case.body).encode()) % len(ACCEPTS)]


@schema.parametrize()
def test_every_answer_is_what_the_schema_promises(case, fuzz_gateway_url, ledger):
    headers = {"Accept": accept_header(case)}
    response = case.call(base_url=fuzz_gateway_url, headers=headers)
    mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
    ledger.record(case.operation.label, mode, response.status_code,
                  response.headers.get("content-type", [""])[0], damaged=damaged_upload(case))
    try:
        case.validate_response(response, headers=headers, additional_checks=CHECKS)
    except (Exception, BaseExceptionGroup) as failure:  # schemathesis' FailureGroup
        ledger.record_failure(case.operation.label, response.status_code, str(failure))
        raise


def test_the_run_covered_every_operation_and_answer(ledger):
    """Reads the ledger of the test above (pytest runs a module's tests in order)."""
    assert ledger.cases >= CASES, ledger.summary()
    assert set(ledger.by_operation) == OPERATIONS, ledger.summary()
    assert {"positive", "negative"} <= set(ledger.by_mode), ledger.summary()
    assert {"200 image/png", "200 application/json"} <= set(ledger.content_types), \
        ledger.summary()
    assert 422 in ledger.statuses and ledger.damaged_statuses, ledger.summary()
    assert ledger.server_errors == 0 and not ledger.failures, ledger.summary()
