"""Looks through the gateway: the form fields, the APPEARANCE row sent to Triton, the answer's
"look", GET /v1/looks and every refusal, without a tritonserver.

The gateway runs in-process (FastAPI's TestClient) with its own `TritonLink`, whose gRPC
client is replaced by `PaintingTriton`: it reads the request's tensors from the wire format
tritonclient built (names, datatypes, shapes, bytes) and paints each face in seven bands,
one per look colour, from the APPEARANCE row it got. So a face shows exactly which look
reached the model, whatever the weights (an untrained generator ignores its look). The real
tritonserver and weights: test_gateway.py.
"""

from __future__ import annotations

import base64
import io
import warnings

import jsonschema
import numpy as np
import pytest
from documented import response_schema, undocumented
from PIL import Image

import sketch2idol.gateway.app
from sketch2idol.core import contract
from sketch2idol.core.looks import NAMED_LOOKS, as_hex, look_vector, random_look, resolve_look
from sketch2idol.gateway.app import create_app
from sketch2idol.gateway.looks import PICKED_SEED_LIMIT, SEED_MAX
from sketch2idol.gateway.settings import Settings
from sketch2idol.gateway.triton import ServedModel, TritonLink

with warnings.catch_warnings():  # Starlette would have the TestClient on httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SIZE, K = 64, 3
JSON = {"Accept": "application/json"}
BANDS = len(contract.LOOK_FIELDS)


class PaintingTriton:
    """Stands in for tritonclient's aio client: records each request's tensors and answers
    with faces painted in the looks they were sent."""

    def __init__(self):
        self.requests: list[dict[str, np.ndarray]] = []

    async def infer(self, model_name, inputs, client_timeout=None, **kwargs):
        assert model_name == contract.ENSEMBLE
        tensors = {}
        for tensor in inputs:
            dtype = contract.NUMPY_DTYPES[tensor.datatype()]
            tensors[tensor.name()] = np.frombuffer(tensor._raw_content, dtype).reshape(
                tensor.shape())
        self.requests.append(tensors)
        assert set(tensors) == {contract.SKETCH, contract.T, contract.APPEARANCE}, set(tensors)
        sketches, appearance = tensors[contract.SKETCH], tensors[contract.APPEARANCE]
        batch = len(sketches)
        assert appearance.shape == (batch, contract.LOOK_DIM)
        colours = np.rint(appearance.reshape(batch, BANDS, 3) * 255).astype(np.uint8)
        rows = np.arange(SIZE) * BANDS // SIZE  # band of each row
        outputs = {contract.FACE: np.ascontiguousarray(
                       np.broadcast_to(colours[:, rows, None, :], (batch, SIZE, SIZE, 3))),
                   contract.REFINED_SKETCH: sketches.copy(),
                   contract.NEIGHBORS: np.zeros((batch, 5, K), np.int64),
                   contract.PROJECTION_VERSION: np.ones((batch, 1), np.int64)}
        return Answer(outputs)

    async def close(self):
        pass


class Answer:
    def __init__(self, outputs: dict[str, np.ndarray]):
        self.outputs = outputs

    def as_numpy(self, name: str):
        return self.outputs.get(name)


def link_factory(takes_look: bool = True):
    class StandInLink(TritonLink):
        """The gateway's TritonLink with PaintingTriton as its gRPC client."""

        def __init__(self, settings):
            self.settings = settings
            self.client = PaintingTriton()
            self._identity = ServedModel(
                name=contract.ENSEMBLE, version="1", weights_id="stand-in", precision="fp32",
                runtime="python-ort", size=SIZE, takes_look=takes_look)

        async def identity(self):
            return self._identity

    return StandInLink


def gateway(monkeypatch, tmp_path, takes_look: bool = True) -> TestClient:
    monkeypatch.setattr(sketch2idol.gateway.app, "TritonLink", link_factory(takes_look))
    settings = Settings(rate_limit_per_s=0, max_client_concurrency=0,
                        model_repository=tmp_path / "no_repository")
    return TestClient(create_app(settings))


@pytest.fixture
def http(monkeypatch, tmp_path):
    with gateway(monkeypatch, tmp_path) as test_client:
        yield test_client


def sent(http) -> list[dict[str, np.ndarray]]:
    return http.app.state.triton.client.requests


@pytest.fixture(scope="module")
def sketch_png() -> bytes:
    drawing = np.full((120, 100), 255, np.uint8)
    drawing[20:100, 20] = drawing[20:100, 80] = drawing[20, 20:80] = drawing[100, 20:81] = 0
    drawing[50, 35:45] = drawing[50, 55:65] = drawing[80, 40:60] = 0
    buffer = io.BytesIO()
    Image.fromarray(drawing).save(buffer, format="PNG")
    return buffer.getvalue()


def post(http, sketch_png, fields=None, headers=None, files=None):
    return http.post("/v1/faces", data=fields or {}, headers=headers or {},
                     files={"sketch": ("sketch.png", sketch_png, "image/png"), **(files or {})})


def face_of(response) -> np.ndarray:
    if response.headers["content-type"] == "image/png":
        data = response.content
    else:
        data = base64.b64decode(response.json()["face"])
    return np.asarray(Image.open(io.BytesIO(data)))


def painted(face: np.ndarray) -> dict[str, str]:
    """The colours a PaintingTriton face was painted in, read off its bands."""
    rows = [int((band + 0.5) * SIZE / BANDS) for band in range(BANDS)]
    return {field: "#" + "".join(f"{c:02x}" for c in face[row, SIZE // 2])
            for field, row in zip(contract.LOOK_FIELDS, rows)}


def look_json_schema(http) -> dict:
    return http.get("/openapi.json").json()["components"]["schemas"]["LookJson"]


# -- what a request asks for is what is painted and reported ----------------------------------

def test_without_look_fields_the_default_look_is_painted_and_reported(http, sketch_png):
    response = post(http, sketch_png, headers=JSON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["look"] == {"name": "idol", "seed": None, **NAMED_LOOKS["idol"]}
    assert painted(face_of(response)) == NAMED_LOOKS["idol"]
    (request,) = sent(http)
    assert request[contract.APPEARANCE].dtype == np.float32
    np.testing.assert_array_equal(request[contract.APPEARANCE][0],
                                  look_vector(resolve_look("idol")))
    assert response.headers["x-look"] == "idol"
    jsonschema.validate(body["look"], look_json_schema(http))


@pytest.mark.parametrize("name", list(NAMED_LOOKS))
def test_a_named_look_is_painted_and_its_colours_reported(http, sketch_png, name):
    response = post(http, sketch_png, {"look": name}, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json()["look"] == {"name": name, "seed": None, **NAMED_LOOKS[name]}
    assert painted(face_of(response)) == NAMED_LOOKS[name]


def test_colour_fields_go_on_top_of_the_named_look(http, sketch_png):
    fields = {"look": "ocean", "hair": "#FF8800", "lips": " a0b1c2 ", "background": "#102030"}
    response = post(http, sketch_png, fields, headers=JSON)
    assert response.status_code == 200, response.text
    expected = {**NAMED_LOOKS["ocean"], "hair": "#ff8800", "lips": "#a0b1c2",
                "background": "#102030", "background2": "#102030"}  # alone: a flat background
    assert response.json()["look"] == {"name": "ocean", "seed": None, **expected}
    assert painted(face_of(response)) == expected
    gradient = post(http, sketch_png, {"background": "#102030", "background2": "#405060"},
                    headers=JSON).json()["look"]
    assert gradient["name"] == "idol"
    assert (gradient["background"], gradient["background2"]) == ("#102030", "#405060")
    assert gradient["hair"] == NAMED_LOOKS["idol"]["hair"]


def test_two_looks_give_two_faces_and_one_look_the_same_face(http, sketch_png):
    faces = [face_of(post(http, sketch_png, {"look": name})) for name in
             ("sunset", "night", "sunset")]
    assert not np.array_equal(faces[0], faces[1])
    np.testing.assert_array_equal(faces[0], faces[2])
    # The PNG answer names the look too.
    assert post(http, sketch_png, {"look": "pastel"}).headers["x-look"] == "pastel"


def test_a_random_look_is_the_seeds_look(http, sketch_png):
    first, again, other = (post(http, sketch_png, {"look": "random", "seed": seed},
                                headers=JSON) for seed in ("42", "42", "43"))
    look = first.json()["look"]
    assert look == {"name": "random", "seed": 42, **as_hex(random_look(42))}
    assert again.json()["look"] == look
    np.testing.assert_array_equal(face_of(first), face_of(again))
    assert other.json()["look"]["seed"] == 43 and other.json()["look"] != look
    assert not np.array_equal(face_of(first), face_of(other))
    assert first.headers["x-look"] == "random seed=42"
    # A seed alone asks for the random look; a named look has no seed.
    assert post(http, sketch_png, {"seed": "42"}, headers=JSON).json()["look"] == look
    named = post(http, sketch_png, {"look": "forest", "seed": "42"}, headers=JSON)
    assert named.json()["look"] == {"name": "forest", "seed": None, **NAMED_LOOKS["forest"]}
    # The largest seed a JSON client holds exactly.
    largest = post(http, sketch_png, {"seed": str(SEED_MAX)}, headers=JSON)
    assert largest.status_code == 200 and largest.json()["look"]["seed"] == SEED_MAX


def test_random_without_a_seed_gets_one_and_reports_it(http, sketch_png):
    answers = [post(http, sketch_png, {"look": "random"}, headers=JSON) for _ in range(3)]
    looks = [answer.json()["look"] for answer in answers]
    seeds = [look["seed"] for look in looks]
    assert all(isinstance(seed, int) and 0 <= seed < PICKED_SEED_LIMIT for seed in seeds)
    assert len(set(seeds)) == 3  # picked afresh (a repeat: 3 in 2**31 * 3)
    for answer, look in zip(answers, looks):
        assert look == {"name": "random", "seed": look["seed"], **as_hex(random_look(look["seed"]))}
        assert answer.headers["x-look"] == f"random seed={look['seed']}"
        replay = post(http, sketch_png, {"look": "random", "seed": str(look["seed"])})
        np.testing.assert_array_equal(face_of(replay), face_of(answer))


# -- refusals ---------------------------------------------------------------------------------

BAD_FIELDS = [
    ("hair", "red", "invalid_colour"),
    ("skin", "#12345", "invalid_colour"),
    ("eyes", "#1234567", "invalid_colour"),
    ("lips", "#gg0000", "invalid_colour"),
    ("clothes", "", "invalid_colour"),
    ("background", "  ", "invalid_colour"),
    ("background2", "rgb(1,2,3)", "invalid_colour"),
    ("look", "sparkly", "unknown_look"),
    ("look", "Idol", "unknown_look"),
    ("look", "", "unknown_look"),
    ("seed", "-1", "invalid_seed"),
    ("seed", "1.5", "invalid_seed"),
    ("seed", "abc", "invalid_seed"),
    ("seed", "1_000", "invalid_seed"),
    ("seed", "", "invalid_seed"),
    ("seed", str(SEED_MAX + 1), "invalid_seed"),
    ("seed", "1e3", "invalid_seed"),
]


@pytest.mark.parametrize("field, value, code", BAD_FIELDS, ids=lambda v: repr(v))
def test_a_bad_look_field_is_a_422_naming_it(http, sketch_png, field, value, code):
    extra = {"look": "random"} if field == "seed" else {}
    response = post(http, sketch_png, {**extra, field: value}, headers=JSON)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body == {"error": code, "detail": body["detail"], "field": field}, body
    assert body["detail"].startswith(f"{field}: ") and len(body["detail"]) > 20, body
    assert sent(http) == [], "a refused look reached the model"


def test_a_colour_sent_as_a_file_is_refused_naming_it(http, sketch_png):
    response = post(http, sketch_png, files={"hair": ("hair.txt", b"#ffffff", "text/plain")})
    assert response.status_code == 422
    assert response.json()["field"] == "hair" and response.json()["error"] == "invalid_colour"


def test_a_look_field_given_twice_is_refused_naming_it(http, sketch_png):
    response = http.post("/v1/faces", files=[("sketch", ("sketch.png", sketch_png, "image/png")),
                                             ("look", (None, "idol")), ("look", (None, "night"))])
    assert response.status_code == 422
    assert response.json() == {"error": "duplicate_field", "field": "look",
                               "detail": response.json()["detail"]}


def test_an_ensemble_exported_before_looks_is_a_502_not_the_clients_fault(monkeypatch,
                                                                         tmp_path, sketch_png):
    with gateway(monkeypatch, tmp_path, takes_look=False) as http:
        response = post(http, sketch_png, {"look": "sunset"})
        assert response.status_code == 502
        assert response.json()["error"] == "model_error"
        assert "APPEARANCE" in response.json()["detail"]
        assert "export it again" in response.json()["detail"]
        assert sent(http) == []


# -- GET /v1/looks ----------------------------------------------------------------------------

def test_the_looks_endpoint_lists_the_named_looks_with_their_colours(http):
    response = http.get("/v1/looks")
    assert response.status_code == 200
    body = response.json()
    assert body["default"] == "idol" and body["random"] == "random"
    assert body["fields"] == list(contract.LOOK_FIELDS)
    assert body["looks"] == [{"name": name, **colours} for name, colours in NAMED_LOOKS.items()]
    document = http.get("/openapi.json").json()
    schema = document["paths"]["/v1/looks"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    jsonschema.validate(body, {**schema, "components": document["components"]},
                        cls=jsonschema.Draft202012Validator)


# -- the answer and the document ---------------------------------------------------------------

def test_every_field_of_a_json_answer_is_in_the_document(http, sketch_png):
    """A field the gateway answers with that the OpenAPI document leaves out (as
    model.projection_version once was) is one schemathesis cannot check."""
    response = post(http, sketch_png, {"include": "refined,neighbors,guide"}, headers=JSON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"model", "look", "refined", "neighbors", "guide"} <= set(body)
    assert body["model"]["projection_version"] == "1"
    document = http.get("/openapi.json").json()
    assert undocumented(body, response_schema(document, "/v1/faces", "post"), document) == []
