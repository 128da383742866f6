"""Faults: a corrupted artifact (a checksum mismatch against MANIFEST.sha256) in the model
repository, through a real tritonserver and the gateway.

tests/serving/test_triton_ensemble.py covers a corrupted generator at start: tritonserver
refuses to start, with one line naming the model, the file and the checksum mismatch. Here:

- a server that stays up anyway (--exit-on-error=false) with a corrupted FAISS index: the
  projection (and so the ensemble) does not load, one log line names the file, Triton and
  the gateway report not ready and the gateway answers 503, never a face made without it;
- a corrupted new version loaded into a serving Triton (explicit model control): the load
  is refused naming the file, and the verified version keeps serving every request.
"""

from __future__ import annotations

import shutil
import time

import httpx
import pytest
import tritonclient.grpc as grpcclient
from fault_stack import (
    assert_no_traceback,
    copy_repository,
    readyz,
    report_figures,
    seconds,
    triton_and_gateway,
    warm_up,
)
from fault_traffic import Traffic, describe, ok_count, tally
from tritonclient.utils import InferenceServerException

from benchmarks.loadgen import png_payloads
from sketch2idol.core import contract
from sketch2idol.export.samples import HELDOUT_SEED, render_sketches
from sketch2idol.launch.tritonserver import startup_errors

CORRUPTED = "index_remainder.faiss"
ALL_MODELS = [*contract.COMPOSING_MODELS, contract.ENSEMBLE]


@pytest.fixture(scope="module")
def payloads() -> list[bytes]:
    return png_payloads(render_sketches(HELDOUT_SEED, 3, 256))


def flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the sha256 can tell
    path.write_bytes(bytes(data))


def projection_states(triton) -> dict[str, str]:
    """version -> state of manifold_projection in Triton's repository index."""
    client = grpcclient.InferenceServerClient(triton.grpc_address)
    index = client.get_model_repository_index(as_json=True)["models"]
    return {model.get("version", ""): model.get("state", "")
            for model in index if model["name"] == contract.PROJECTION}


def wait_for_log(log, text: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while text not in (content := log.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {log}"
        time.sleep(0.2)
    return content


def test_a_server_with_a_corrupted_index_reports_not_ready_and_serves_no_garbage(
        exported_repository, tmp_path, payloads):
    repository = copy_repository(exported_repository[0], tmp_path / "repository")
    flip_a_byte(repository / contract.PROJECTION / "1" / CORRUPTED)
    with triton_and_gateway(repository, tmp_path, start={"wait_for": "live"},
                            extra_args=["--exit-on-error=false"]) as (triton, gateway, url):
        log = wait_for_log(triton.log_file, f"failed to load '{contract.PROJECTION}'", 60)
        reasons = [line for line in startup_errors(log) if contract.PROJECTION in line]
        assert reasons and CORRUPTED in reasons[0] and "checksum mismatch" in reasons[0]
        assert "\n" not in reasons[0]
        assert triton.alive() and triton.is_live() and not triton.is_ready()
        client = grpcclient.InferenceServerClient(triton.grpc_address)
        assert not client.is_model_ready(contract.PROJECTION)
        assert not client.is_model_ready(contract.ENSEMBLE)
        not_ready = readyz(url)
        assert not_ready.status_code == 503 and not_ready.json()["error"] == "not_ready"
        answers = [httpx.post(f"{url}/v1/faces", files={"sketch": ("s.png", png, "image/png")},
                              timeout=30, trust_env=False) for png in payloads]
        for answer in answers:
            assert answer.status_code == 503, answer.text[:200]
            assert answer.json()["error"] == "model_unavailable"
            assert int(answer.headers["retry-after"]) >= 1
        assert gateway.alive() and triton.alive()
    assert_no_traceback(tmp_path / "gateway.log")
    report_figures("corrupted_artifact_at_start", {
        "log_line": reasons[0].replace(str(repository), "<repository>"),
        "triton_ready": False, "gateway_readyz": 503,
        "faces_requested": len(answers),
        "answered_503": sum(a.status_code == 503 for a in answers)})


def test_a_corrupted_new_version_is_refused_and_the_verified_one_keeps_serving(
        exported_repository, tmp_path, payloads):
    repository = copy_repository(exported_repository[0], tmp_path / "repository")
    with triton_and_gateway(repository, tmp_path, model_control_mode="explicit",
                            load_models=ALL_MODELS) as (triton, gateway, url):
        warm_up(url, payloads[0])
        client = grpcclient.InferenceServerClient(triton.grpc_address)
        with Traffic(url, payloads, clients=3) as traffic:
            traffic.wait_for(lambda done: ok_count(done) >= 6, 60, "serving")
            version_2 = shutil.copytree(repository / contract.PROJECTION / "1",
                                        repository / contract.PROJECTION / "2")
            flip_a_byte(version_2 / CORRUPTED)
            load_started = time.monotonic()
            with pytest.raises(InferenceServerException) as refused:
                client.load_model(contract.PROJECTION)
            load_ended = time.monotonic()
            traffic.wait_for(lambda done: ok_count(done, after=load_ended) >= 6, 60,
                             "200s after the refused load")
        outcomes = traffic.outcomes
        message = str(refused.value)
        assert CORRUPTED in message and "checksum mismatch" in message, message
        log = triton.log_file.read_text(errors="replace")
        reasons = [line for line in startup_errors(log) if CORRUPTED in line]
        assert reasons and "version 2" in reasons[0] and "checksum mismatch" in reasons[0]
        assert projection_states(triton).get("1") == "READY"
        assert client.is_model_ready(contract.ENSEMBLE)
        assert readyz(url).status_code == 200
    counts = tally(outcomes, bound_s=30)
    assert counts.lost == 0 and counts.succeeded == counts.sent, describe(outcomes)
    assert {o.projection_version for o in outcomes} == {"1"}, "a corrupted version answered"
    during = [o for o in outcomes if o.started < load_ended and o.finished > load_started]
    assert during, "no request was in flight during the refused load"
    assert_no_traceback(tmp_path / "gateway.log")
    report_figures("corrupted_new_version", {
        **counts.as_dict(), "in_flight_during_load": len(during),
        "load_refused_after_s": seconds(load_ended - load_started),
        "served_versions": sorted({o.projection_version for o in outcomes})})
