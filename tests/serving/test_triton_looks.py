"""The look goes through Triton: the ensemble's APPEARANCE reaches the generator, two looks
give two faces, the same look gives the pipeline's face, and requests in different looks
that the dynamic batcher runs together each keep their own.

Weights that ignore the look (the untrained interim generator: its FiLM projections start at
zero) would make these tests vacuous, so this module serves a look probe
(sketch2idol/export/graphs.look_probe: the same generator with its FiLM layers randomised) in place
of
the exported generator, in a copy of the session's repository on a server of its own, and
compares it with the reference pipeline holding the same probe. Every other model is the
session's export, unchanged.
"""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from ensemble_request import ensemble_inputs

from sketch2idol.core import contract
from sketch2idol.core.looks import look_vector, named_look
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.weights import load_weights
from sketch2idol.export.graphs import generator_graph, look_probe
from sketch2idol.export.onnx_export import export_onnx
from sketch2idol.export.repository import ONNX_FILE, VERSION
from sketch2idol.export.samples import HELDOUT_SEED, render_sketches, sample_looks
from sketch2idol.launch.tritonserver import TritonServer, free_ports
from sketch2idol.serving.integrity import write_manifest

T = np.full((1, 5), 0.5, np.float32)
IDOL, OCEAN = (look_vector(named_look(name)) for name in ("idol", "ocean"))
#: Faces of one sketch in two different looks differ by at least this (mean grey levels);
#: the probe's differ by ~10.
MIN_CHANGE = 3.0


@pytest.fixture(scope="module")
def probe_pipeline() -> Pipeline:
    weights = load_weights()
    weights.generator = look_probe(weights.generator)
    return Pipeline(weights)


@pytest.fixture(scope="module")
def probe_server(exported_repository, probe_pipeline, tmp_path_factory):
    repository, _ = exported_repository
    copy = tmp_path_factory.mktemp("look_probe") / "repository"
    shutil.copytree(repository, copy, ignore=shutil.ignore_patterns("__pycache__"))
    version_dir = copy / contract.GENERATOR / VERSION
    export_onnx(generator_graph(probe_pipeline.generator, probe_pipeline.size),
                version_dir / ONNX_FILE)
    write_manifest(version_dir, [ONNX_FILE])
    http_port, grpc_port, metrics_port = free_ports(3)
    with TritonServer(copy, http_port=http_port, grpc_port=grpc_port,
                      metrics_port=metrics_port,
                      work_dir=tmp_path_factory.mktemp("triton-looks")) as running:
        yield running


@pytest.fixture(scope="module")
def sketches() -> np.ndarray:
    return render_sketches(HELDOUT_SEED, 3, 256)


def assert_close(served: np.ndarray, expected: np.ndarray, what: str) -> None:
    """The export's tolerance: within 1 grey level on at least 99% of the values."""
    assert served.shape == expected.shape and served.dtype == np.uint8
    close = np.abs(served.astype(np.int16) - expected.astype(np.int16)) <= 1
    assert close.mean() >= 0.99, f"{what}: only {close.mean():.4f} within 1 grey level"


def change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).mean())


def test_two_looks_give_two_faces_and_each_is_the_pipelines(probe_server, probe_pipeline,
                                                            sketches):
    client = httpclient.InferenceServerClient(probe_server.http_address)
    sketch = sketches[:1]
    served = {name: client.infer(contract.ENSEMBLE, ensemble_inputs(sketch, T, look[None]))
              for name, look in (("idol", IDOL), ("ocean", OCEAN))}
    faces = {name: result.as_numpy(contract.FACE)[0] for name, result in served.items()}
    assert change(faces["idol"], faces["ocean"]) >= MIN_CHANGE
    # The look paints; it does not redraw: stage 1's outputs do not depend on it.
    np.testing.assert_array_equal(served["idol"].as_numpy(contract.REFINED_SKETCH),
                                  served["ocean"].as_numpy(contract.REFINED_SKETCH))
    np.testing.assert_array_equal(served["idol"].as_numpy(contract.NEIGHBORS),
                                  served["ocean"].as_numpy(contract.NEIGHBORS))
    for name, look in (("idol", IDOL), ("ocean", OCEAN)):
        _, expected, _ = probe_pipeline.run_batch(sketch, T, look)
        assert_close(faces[name][None], expected, f"{name} face")


def test_the_same_look_gives_the_same_face_over_http_and_grpc(probe_server, sketches):
    looks = np.stack([OCEAN])
    http = httpclient.InferenceServerClient(probe_server.http_address)
    grpc = grpcclient.InferenceServerClient(probe_server.grpc_address)
    first = http.infer(contract.ENSEMBLE, ensemble_inputs(sketches[1:2], T, looks))
    again = grpc.infer(contract.ENSEMBLE, ensemble_inputs(sketches[1:2], T, looks, grpcclient))
    np.testing.assert_array_equal(first.as_numpy(contract.FACE), again.as_numpy(contract.FACE))


def test_one_request_in_several_looks_paints_each_row_in_its_own(probe_server, probe_pipeline,
                                                                  sketches):
    looks = sample_looks(3)
    t = np.repeat(T, 3, axis=0)
    client = httpclient.InferenceServerClient(probe_server.http_address)
    faces = client.infer(contract.ENSEMBLE,
                         ensemble_inputs(sketches, t, looks)).as_numpy(contract.FACE)
    _, expected, _ = probe_pipeline.run_batch(sketches, t, looks)
    assert_close(faces, expected, "faces of a three-look request")
    # The same sketches with the looks shifted by one row get other faces.
    shifted = client.infer(contract.ENSEMBLE,
                           ensemble_inputs(sketches, t, np.roll(looks, 1, axis=0)))
    assert all(change(a, b) >= MIN_CHANGE
               for a, b in zip(faces, shifted.as_numpy(contract.FACE)))


def generator_counts(client) -> tuple[int, int]:
    stats = client.get_inference_statistics(contract.GENERATOR)["model_stats"][0]
    return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))


def test_requests_batched_together_keep_their_own_looks(probe_server, probe_pipeline,
                                                        sketches):
    """One sketch in two looks, 12 concurrent requests: the dynamic batcher runs them in
    fewer generator executions than requests, and every face is its own look's."""
    client = httpclient.InferenceServerClient(probe_server.http_address, concurrency=12)
    sketch = sketches[2:3]
    expected = {name: probe_pipeline.run_batch(sketch, T, look)[1]
                for name, look in (("idol", IDOL), ("ocean", OCEAN))}
    assert change(expected["idol"], expected["ocean"]) >= MIN_CHANGE
    before = generator_counts(client)
    order = ["idol", "ocean"] * 6
    pending = [client.async_infer(contract.ENSEMBLE,
                                  ensemble_inputs(sketch, T,
                                                  (IDOL if name == "idol" else OCEAN)[None]))
               for name in order]
    faces = [request.get_result().as_numpy(contract.FACE) for request in pending]
    for name, face in zip(order, faces):
        assert_close(face, expected[name], f"a batched request in {name}")
    for _ in range(50):  # statistics land a moment after the responses
        inferences, executions = (a - b for a, b in zip(generator_counts(client), before))
        if inferences >= len(order):
            break
        time.sleep(0.1)
    assert inferences == len(order)
    assert executions < inferences, "the generator ran every request alone: no mixed batch"
