"""Bad requests straight to Triton, over HTTP and gRPC, to the `sketch2face` ensemble and to
each composing model: wrong datatypes, wrong shapes, batches over max_batch_size, missing and
unknown inputs, inputs whose batches disagree, non-finite or out-of-range values (T, and an
APPEARANCE that is not a look: NaN, infinity, outside [0, 1], the wrong length), and
malformed HTTP bodies. Each gets an InferenceServerException (HTTP: a 4xx) whose message
names what was wrong, no Python-backend stub dies or restarts, and afterwards the server is
ready and a correct request gives the same face as before.

The cases are built from what the server itself says about each model (metadata and
config), checked against sketch2idol/core/contract.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from sketch2idol.core import contract
from sketch2idol.core.looks import look_vector, resolve_look
from sketch2idol.export.samples import HELDOUT_SEED, render_sketches
from sketch2idol.launch.tritonserver import stub_processes

MODELS = (contract.ENSEMBLE, *contract.COMPOSING_MODELS)
PROTOCOLS = {"http": httpclient, "grpc": grpcclient}
#: Another datatype for each: what a confused client might send instead.
WRONG_DATATYPE = {"UINT8": "FP32", "FP32": "INT64", "INT64": "FP32"}
#: The default look: a valid APPEARANCE row.
DEFAULT_LOOK = look_vector(resolve_look())
#: What the generator says about an APPEARANCE outside [0, 1] (sketch2idol.core.looks).
OUT_OF_RANGE = "APPEARANCE values must lie in"


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: str
    dims: tuple[int, ...]  # without the batch axis


@dataclass(frozen=True)
class Served:
    """What the server says about one model."""

    name: str
    inputs: tuple[Tensor, ...]
    max_batch: int


@dataclass(frozen=True)
class BadRequest:
    model: str
    inputs: tuple[tuple[str, str, tuple[int, ...], np.ndarray], ...]  # name, type, shape, data
    mentions: tuple[str, ...]  # the error message names at least one of these


def stub_pids(pgid: int) -> set[int]:
    """The Python-backend stubs alive in Triton's process group."""
    return set(stub_processes(pgid))


@pytest.fixture(scope="module")
def served(triton_server) -> dict[str, Served]:
    client = httpclient.InferenceServerClient(triton_server.http_address)
    models = {}
    for name in MODELS:
        metadata = client.get_model_metadata(name)
        config = client.get_model_config(name)
        inputs = tuple(Tensor(i["name"], i["datatype"], tuple(int(d) for d in i["shape"][1:]))
                       for i in metadata["inputs"])
        models[name] = Served(name, inputs, int(config["max_batch_size"]))
    return models


@pytest.fixture(scope="module")
def sketch() -> np.ndarray:
    return render_sketches(HELDOUT_SEED, 1, 256)[0]


def infer_good(module, address: str, sketch: np.ndarray):
    client = module.InferenceServerClient(address)
    inputs = [module.InferInput(contract.SKETCH, [1, *sketch.shape], "UINT8"),
              module.InferInput(contract.T, [1, 5], "FP32"),
              module.InferInput(contract.APPEARANCE, [1, contract.LOOK_DIM], "FP32")]
    inputs[0].set_data_from_numpy(sketch[None])
    inputs[1].set_data_from_numpy(np.full((1, 5), 0.5, np.float32))
    inputs[2].set_data_from_numpy(DEFAULT_LOOK[None])
    return client.infer(contract.ENSEMBLE, inputs).as_numpy(contract.FACE)


@pytest.fixture(scope="module")
def face_before(triton_server, sketch) -> np.ndarray:
    return infer_good(httpclient, triton_server.http_address, sketch)


def good_data(tensor: Tensor, batch: int) -> np.ndarray:
    """Valid values: white sketches, t = 0.5, the default look, small features."""
    shape = (batch, *tensor.dims)
    dtype = contract.NUMPY_DTYPES[tensor.datatype]
    if tensor.datatype == "UINT8":
        return np.full(shape, 255, dtype)
    if tensor.name == contract.T:
        return np.full(shape, 0.5, dtype)
    if tensor.name == contract.APPEARANCE:
        return np.resize(DEFAULT_LOOK, shape).astype(dtype)
    return np.random.default_rng(0).normal(0, 0.1, shape).astype(dtype)


def good(tensor: Tensor, batch: int = 1):
    data = good_data(tensor, batch)
    return tensor.name, tensor.datatype, data.shape, data


def bad_requests(model: Served) -> dict[str, BadRequest]:
    """Every bad request for one model, by case name."""
    cases = {}
    all_good = tuple(good(tensor) for tensor in model.inputs)

    def others(tensor: Tensor) -> tuple:
        return tuple(entry for entry in all_good if entry[0] != tensor.name)

    for tensor in model.inputs:
        wrong = WRONG_DATATYPE[tensor.datatype]
        data = good_data(tensor, 1).astype(contract.NUMPY_DTYPES[wrong])
        cases[f"{tensor.name} as {wrong}"] = BadRequest(
            model.name, ((tensor.name, wrong, data.shape, data), *others(tensor)),
            (tensor.name,))
        smaller = (1, *tensor.dims[:-1], tensor.dims[-1] // 2)
        cases[f"{tensor.name} too small"] = BadRequest(
            model.name, ((tensor.name, tensor.datatype, smaller,
                          np.resize(good_data(tensor, 1), smaller)), *others(tensor)),
            (tensor.name,))
        extra_axis = (1, *tensor.dims, 1)
        cases[f"{tensor.name} with an extra axis"] = BadRequest(
            model.name, ((tensor.name, tensor.datatype, extra_axis,
                          good_data(tensor, 1).reshape(extra_axis)), *others(tensor)),
            (tensor.name,))
        cases[f"{tensor.name} missing"] = BadRequest(model.name, others(tensor),
                                                     (tensor.name,))
        if tensor.datatype == "FP32":
            nan = good_data(tensor, 1)
            nan.flat[0] = np.nan
            cases[f"{tensor.name} with a NaN"] = BadRequest(
                model.name, ((tensor.name, "FP32", nan.shape, nan), *others(tensor)),
                (tensor.name,))
    over = model.max_batch + 1
    cases["batch over max_batch_size"] = BadRequest(
        model.name, tuple(good(tensor, over) for tensor in model.inputs), ("batch",))
    unknown = np.zeros((1, 3), np.float32)
    cases["an unknown input"] = BadRequest(
        model.name, (*all_good, ("BOGUS", "FP32", unknown.shape, unknown)), ("BOGUS",))
    if len(model.inputs) > 1:
        first, second = model.inputs[:2]
        cases["inputs whose batches differ"] = BadRequest(
            model.name, (good(first, 1), good(second, 2), *all_good[2:]),
            (first.name, second.name, "batch"))
    if contract.T in {tensor.name for tensor in model.inputs}:
        above = tuple((name, kind, shape, data + 1.5 if name == contract.T else data)
                      for name, kind, shape, data in all_good)
        cases["T above 1"] = BadRequest(model.name, above, ("T must be in [0, 1]",))
    if contract.APPEARANCE in {tensor.name for tensor in model.inputs}:
        cases.update(appearance_cases(model, all_good))
    return cases


def appearance_cases(model: Served, all_good: tuple) -> dict[str, BadRequest]:
    """Looks that are not looks: out of range either way, infinite, too long."""
    def with_look(look: np.ndarray) -> tuple:
        return tuple((name, kind, look.shape, look) if name == contract.APPEARANCE
                     else (name, kind, shape, data) for name, kind, shape, data in all_good)

    above, below, infinite = (DEFAULT_LOOK[None].copy() for _ in range(3))
    above[0, 0], below[0, -1], infinite[0, 4] = 1.5, -0.2, np.inf
    too_long = np.resize(DEFAULT_LOOK, (1, contract.LOOK_DIM + 3)).astype(np.float32)
    return {
        "APPEARANCE above 1": BadRequest(model.name, with_look(above), (OUT_OF_RANGE,)),
        "APPEARANCE below 0": BadRequest(model.name, with_look(below), (OUT_OF_RANGE,)),
        "APPEARANCE with infinity": BadRequest(model.name, with_look(infinite),
                                               ("APPEARANCE holds NaN or infinity",)),
        "APPEARANCE too long": BadRequest(model.name, with_look(too_long),
                                          (contract.APPEARANCE,)),
    }


#: The cases of a model with an APPEARANCE input (the ensemble and the generator).
APPEARANCE_CASES = ["APPEARANCE as INT64", "APPEARANCE too small",
                    "APPEARANCE with an extra axis", "APPEARANCE missing",
                    "APPEARANCE with a NaN", "APPEARANCE above 1", "APPEARANCE below 0",
                    "APPEARANCE with infinity", "APPEARANCE too long"]
CASE_NAMES = {  # model -> case names, for parametrising before the server is up
    contract.ENSEMBLE: ["SKETCH as FP32", "SKETCH too small", "SKETCH with an extra axis",
                        "SKETCH missing", "T as INT64", "T too small", "T with an extra axis",
                        "T missing", "T with a NaN", "batch over max_batch_size",
                        "an unknown input", "inputs whose batches differ", "T above 1",
                        *APPEARANCE_CASES],
    contract.ENCODERS: ["SKETCH as FP32", "SKETCH too small", "SKETCH with an extra axis",
                        "SKETCH missing", "batch over max_batch_size", "an unknown input"],
    contract.PROJECTION: ["FEATURES as INT64", "FEATURES too small",
                          "FEATURES with an extra axis", "FEATURES missing",
                          "FEATURES with a NaN", "T as INT64", "T too small",
                          "T with an extra axis", "T missing", "T with a NaN",
                          "batch over max_batch_size", "an unknown input",
                          "inputs whose batches differ", "T above 1"],
    contract.DECODERS: ["PROJECTED as INT64", "PROJECTED too small",
                        "PROJECTED with an extra axis", "PROJECTED missing",
                        "PROJECTED with a NaN", "batch over max_batch_size",
                        "an unknown input"],
    contract.GENERATOR: ["REFINED_SKETCH as FP32", "REFINED_SKETCH too small",
                         "REFINED_SKETCH with an extra axis", "REFINED_SKETCH missing",
                         "batch over max_batch_size", "an unknown input",
                         "inputs whose batches differ", *APPEARANCE_CASES],
}
PARAMETERS = [(protocol, model, case) for protocol in PROTOCOLS
              for model, cases in CASE_NAMES.items() for case in cases]


def test_the_served_models_match_the_contract(served):
    for name, model in served.items():
        assert tuple(tensor.name for tensor in model.inputs) == contract.MODEL_IO[name][0]
        assert model.max_batch >= 1
        assert sorted(bad_requests(model)) == sorted(CASE_NAMES[name])


@pytest.fixture(scope="module")
def stubs_before(triton_server, served, face_before) -> set[int]:
    pids = stub_pids(triton_server.pid)
    assert len(pids) >= 3, "the Python-backend models run in stub processes"
    return pids


@pytest.mark.parametrize("protocol, model, case", PARAMETERS)
def test_a_bad_request_is_refused_with_a_reason(triton_server, served, stubs_before,
                                                protocol, model, case):
    request = bad_requests(served[model])[case]
    module = PROTOCOLS[protocol]
    address = triton_server.http_address if protocol == "http" else triton_server.grpc_address
    inputs = []
    for name, datatype, shape, data in request.inputs:
        tensor = module.InferInput(name, list(shape), datatype)
        tensor.set_data_from_numpy(np.ascontiguousarray(data))
        inputs.append(tensor)
    timeout = {"client_timeout": 30} if protocol == "grpc" else {}
    with pytest.raises(InferenceServerException) as refused:
        module.InferenceServerClient(address).infer(model, inputs, **timeout)
    message = str(refused.value)
    assert "Traceback" not in message and len(message) > 20, message
    assert any(word in message for word in request.mentions), (request.mentions, message)
    if protocol == "http":
        assert str(refused.value.status()).startswith("4"), message


def malformed_body(kind: str, model: Served) -> bytes:
    tensor = model.inputs[0]
    if kind == "not JSON":
        return b"{not json"
    if kind == "inputs not a list":
        return b'{"inputs": "nope"}'
    return json.dumps({"inputs": [{"name": tensor.name, "shape": [1, *tensor.dims],  # too few
                                   "datatype": tensor.datatype, "data": [1] * 10}]}).encode()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("kind, mentions", [("not JSON", "JSON"), ("inputs not a list", "inputs"),
                                            ("wrong element count", "data")])
def test_malformed_http_bodies_are_refused(triton_server, served, stubs_before, model, kind,
                                           mentions):
    """Triton's HTTP frontend answers a body it cannot parse with 400 or, for some parse
    errors, 500: either way a JSON error saying what it could not parse, and no crash."""
    response = httpx.post(f"{triton_server.http_url}/v2/models/{model}/infer",
                          content=malformed_body(kind, served[model]),
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code in (400, 500), response.text
    error = response.json()["error"]
    assert mentions in error and "Traceback" not in error, error


def test_after_every_bad_request_the_server_serves_as_before(triton_server, stubs_before,
                                                             face_before, sketch):
    """Runs last in this module (pytest keeps file order)."""
    assert triton_server.alive() and triton_server.is_ready()
    assert stub_pids(triton_server.pid) == stubs_before, "a Python-backend stub restarted"
    for module, address in ((httpclient, triton_server.http_address),
                            (grpcclient, triton_server.grpc_address)):
        np.testing.assert_array_equal(infer_good(module, address, sketch), face_before)
