"""The exported repository in a real tritonserver: parity (each sketch in its own look),
batching, metrics (bad requests: test_triton_bad_requests.py; faces that follow the look:
test_triton_looks.py).

The session's server (fp32, python-ort, the exported default weights) serves the module;
the corrupted-artifact test starts its own and expects it to refuse.
"""

from __future__ import annotations

import shutil
import time
import urllib.request

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from ensemble_request import ensemble_inputs

from sketch2idol.core import contract
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.export.samples import HELDOUT_SEED, render_sketches, sample_looks
from sketch2idol.launch.tritonserver import TritonServer, TritonStartError, free_ports
from sketch2idol.serving.projection_model import SEARCH_DURATION_METRIC

T_CASES = np.array([[1.0] * 5, [0.5] * 5, [0.0] * 5, [1.0, 0.0, 0.5, 0.25, 0.75]], np.float32)
#: One look per case: two named looks and two random looks of the training distribution.
LOOKS = sample_looks(len(T_CASES))


@pytest.fixture(scope="module")
def server(triton_server):
    return triton_server


@pytest.fixture(scope="module")
def sketches():
    return render_sketches(HELDOUT_SEED, len(T_CASES), 256)


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline.from_weights()


@pytest.fixture(scope="module")
def reference(pipeline, sketches):
    return pipeline.run_batch(sketches, T_CASES, LOOKS)


def served_rows(server, pipeline, sketches: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The oracle's neighbour rows [B, 5, K] for the features the served encoders compute
    (one request of these sketches, as the ensemble sends them on)."""
    client = httpclient.InferenceServerClient(server.http_address)
    sketch = httpclient.InferInput(contract.SKETCH, list(sketches.shape), "UINT8")
    sketch.set_data_from_numpy(sketches)
    features = client.infer(contract.ENCODERS, [sketch]).as_numpy(contract.FEATURES)
    return pipeline.refiner.project(features, t)[1]


def assert_matches_reference(result, reference, oracle_rows) -> None:
    refined, faces, rows = reference
    for name, expected in ((contract.REFINED_SKETCH, refined), (contract.FACE, faces)):
        served = result.as_numpy(name)
        assert served.shape == expected.shape and served.dtype == np.uint8
        close = np.abs(served.astype(np.int16) - expected.astype(np.int16)) <= 1
        assert close.mean() >= 0.99, f"{name}: only {close.mean():.4f} within 1 grey level"
    neighbors = result.as_numpy(contract.NEIGHBORS)
    # Exact on any CPU: the FAISS model returns the NumPy oracle's rows for its features.
    np.testing.assert_array_equal(neighbors, oracle_rows)
    # onnxruntime's features are not PyTorch's bit for bit (the export's parity tolerance,
    # and the rounding differs per CPU), so two bank rows at nearly equal distance may swap.
    same = (neighbors == rows).mean()
    assert same >= 0.9, f"only {same:.3f} of the neighbour rows are the reference's"


def test_http_ensemble_matches_the_reference_pipeline(server, pipeline, sketches, reference):
    client = httpclient.InferenceServerClient(server.http_address)
    result = client.infer(contract.ENSEMBLE, ensemble_inputs(sketches, T_CASES, LOOKS))
    assert_matches_reference(result, reference, served_rows(server, pipeline, sketches, T_CASES))


def test_grpc_ensemble_matches_the_reference_pipeline_one_request_each(server, pipeline,
                                                                        sketches, reference):
    client = grpcclient.InferenceServerClient(server.grpc_address)
    results = [client.infer(contract.ENSEMBLE,
                            ensemble_inputs(sketches[i:i + 1], T_CASES[i:i + 1],
                                        LOOKS[i:i + 1], grpcclient))
               for i in range(len(sketches))]
    refined, faces, rows = reference
    for i, result in enumerate(results):
        one = slice(i, i + 1)
        assert_matches_reference(result, (refined[one], faces[one], rows[one]),
                                 served_rows(server, pipeline, sketches[one], T_CASES[one]))


def model_counts(client) -> dict[str, tuple[int, int]]:
    """model -> (inferences, executions) so far."""
    return {s["name"]: (int(s.get("inference_count", 0)), int(s.get("execution_count", 0)))
            for s in client.get_inference_statistics()["model_stats"]}


def test_dynamic_batching_merges_concurrent_requests(server, sketches):
    client = httpclient.InferenceServerClient(server.http_address, concurrency=12)
    before = model_counts(client)
    pending = [client.async_infer(contract.ENSEMBLE,
                                  ensemble_inputs(sketches[i % 4:i % 4 + 1],
                                                  T_CASES[i % 4:i % 4 + 1],
                                                  LOOKS[i % 4:i % 4 + 1]))
               for i in range(12)]
    for request in pending:
        request.get_result()
    # Statistics are recorded after a model's execute returns, which can be a moment after
    # the ensemble's response went out: wait for the counts to settle.
    for _ in range(50):
        after = model_counts(client)
        if all(after[m][0] - before[m][0] >= 12 for m in contract.COMPOSING_MODELS):
            break
        time.sleep(0.1)
    for name in contract.COMPOSING_MODELS:
        inferences = after[name][0] - before[name][0]
        executions = after[name][1] - before[name][1]
        assert inferences == 12
        assert executions < inferences, f"{name}: {executions} executions, no batching"


def test_metrics_cover_every_model_and_the_search_time(server, sketches):
    client = httpclient.InferenceServerClient(server.http_address)
    client.infer(contract.ENSEMBLE, ensemble_inputs(sketches[:1], T_CASES[:1], LOOKS[:1]))
    text = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
    for name in (*contract.COMPOSING_MODELS, contract.ENSEMBLE):
        assert f'nv_inference_request_success{{model="{name}"' in text
    searched = [line for line in text.splitlines() if line.startswith(SEARCH_DURATION_METRIC)]
    assert searched and float(searched[0].rsplit(" ", 1)[1]) > 0


def test_a_corrupted_artifact_keeps_its_model_from_loading(exported_repository, tmp_path):
    repository, _ = exported_repository
    copy = tmp_path / "repository"
    shutil.copytree(repository, copy)
    onnx_file = copy / contract.GENERATOR / "1" / "model.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    onnx_file.write_bytes(bytes(data))
    http_port, grpc_port, metrics_port = free_ports(3)
    server = TritonServer(copy, http_port=http_port, grpc_port=grpc_port,
                          metrics_port=metrics_port, work_dir=tmp_path / "triton",
                          ready_timeout_s=120)
    with pytest.raises(TritonStartError) as error:
        server.start()
    message = str(error.value)
    assert "\n" not in message
    assert contract.GENERATOR in message and "model.onnx" in message
    assert "checksum mismatch" in message
    assert not server.alive()
