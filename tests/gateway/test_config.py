"""GET /v1/config: what a faces request takes, as the gateway's own definitions say it
(components, the default t and its range, include, the looks, upload limits), and the served
model, or why there is none, without failing the rest.

In-process gateways (FastAPI's TestClient) with a TritonLink whose identity is given: the
values and the settings. A real gateway process without a Triton: the answer while Triton is
down. The session's real gateway and tritonserver: the model a face reports. The page that
builds its sliders from this answer: test_page.py.
"""

from __future__ import annotations

import base64
import io
import time
import warnings

import httpx
import jsonschema
import pytest
from documented import response_schema, undocumented
from gateway_process import start_gateway
from image_bytes import encode
from PIL import Image, ImageDraw

import sketch2idol.gateway.app
from sketch2idol.core import contract
from sketch2idol.core.faces_request import CONTENT_TYPES, MIN_SIDE
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.gateway.app import create_app
from sketch2idol.gateway.errors import unavailable
from sketch2idol.gateway.request_config import SLIDER_STEPS, slider_step
from sketch2idol.gateway.settings import DEFAULT_T, Settings
from sketch2idol.gateway.triton import ServedModel, TritonLink
from sketch2idol.gateway.uploads import INCLUDE_VALUES
from sketch2idol.launch.tritonserver import free_port

with warnings.catch_warnings():  # Starlette would have the TestClient on httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

CONFIG_PATH = "/v1/config"
SERVED = ServedModel(name=contract.ENSEMBLE, version="3", weights_id="stand-in",
                     precision="fp32", runtime="python-ort", size=64)
DOWN = unavailable("the model server is not reachable (starting or down)")


def link_naming(identity: ServedModel | Exception):
    class NamingLink(TritonLink):
        """The gateway's TritonLink, naming `identity` (or refusing with it) without Triton."""

        def __init__(self, settings):
            self.settings = settings

        async def identity(self):
            if isinstance(identity, Exception):
                raise identity
            return identity

        async def close(self):
            pass

    return NamingLink


def config_of(monkeypatch, settings: Settings, identity=SERVED) -> tuple[dict, dict]:
    """The /v1/config answer of an in-process gateway, and its OpenAPI document."""
    monkeypatch.setattr(sketch2idol.gateway.app, "TritonLink", link_naming(identity))
    with TestClient(create_app(settings)) as http:
        response = http.get(CONFIG_PATH)
        assert response.status_code == 200, response.text
        return response.json(), http.get("/openapi.json").json()


def assert_documented(body: dict, document: dict) -> None:
    schema = response_schema(document, CONFIG_PATH, "get")
    jsonschema.validate(body, {**schema, "components": document["components"]},
                        cls=jsonschema.Draft202012Validator)
    assert undocumented(body, schema, document) == []


def form_properties(document: dict, faces: dict) -> dict:
    name = faces["schema"]["$ref"].rsplit("/", 1)[1]
    return document["components"]["schemas"][name]["properties"]


def test_the_config_is_the_gateways_own_definitions(monkeypatch, tmp_path):
    settings = Settings(model_repository=tmp_path / "no_repository")
    body, document = config_of(monkeypatch, settings)
    assert body["components"] == list(COMPONENTS)
    assert body["t"] == {"default": DEFAULT_T, "minimum": contract.T_RANGE[0],
                         "maximum": contract.T_RANGE[1], "step": SLIDER_STEPS[0]}
    assert body["include"] == list(INCLUDE_VALUES)
    assert body["looks"]["fields"] == list(contract.LOOK_FIELDS)
    assert body["upload"] == {"content_types": list(CONTENT_TYPES.values()),
                              "max_bytes": settings.max_body_bytes,
                              "max_pixels": settings.max_pixels, "min_side": MIN_SIDE}
    assert body["image_size"] == SERVED.size
    assert body["model"] == {"available": True, "identity": SERVED.as_dict(), "detail": None}
    assert_documented(body, document)
    # What the faces route documents is what the config says.
    faces = document["paths"]["/v1/faces"]["post"]["requestBody"]["content"][
        "multipart/form-data"]
    form = form_properties(document, faces)
    for field in ("t", *(f"t_{name}" for name in body["components"])):
        assert (form[field]["minimum"], form[field]["maximum"]) == (
            body["t"]["minimum"], body["t"]["maximum"]), field
    assert faces["encoding"]["sketch"]["contentType"] == ", ".join(
        body["upload"]["content_types"])


def test_the_looks_are_those_of_get_v1_looks(monkeypatch, tmp_path):
    monkeypatch.setattr(sketch2idol.gateway.app, "TritonLink", link_naming(SERVED))
    with TestClient(create_app(Settings(model_repository=tmp_path))) as http:
        assert http.get(CONFIG_PATH).json()["looks"] == http.get("/v1/looks").json()


@pytest.mark.parametrize("value, step", [("0.37", 0.01), ("1", 0.05), ("0", 0.05),
                                         ("0.3", 0.05), ("0.125", 0.001)])
def test_the_default_t_is_s2i_default_t_on_a_step_the_slider_can_hold(monkeypatch, tmp_path,
                                                                     value, step):
    monkeypatch.setenv("S2I_DEFAULT_T", value)
    body, _ = config_of(monkeypatch, Settings.from_env(model_repository=tmp_path))
    assert body["t"]["default"] == float(value)
    assert body["t"]["step"] == step


@pytest.mark.parametrize("default, step", [
    (0.0, 0.05), (0.05, 0.05), (0.1, 0.05), (0.3, 0.05), (0.55, 0.05), (0.7, 0.05), (1.0, 0.05),
    (0.37, 0.01), (0.99, 0.01), (0.999, 0.001), (0.1234, 0.001)])
def test_the_slider_step_is_the_coarsest_the_default_lies_on(default, step):
    """A range input moves its value onto its step: the default must lie on it (0.3 / 0.05 is
    5.999... in floating point, and still on it)."""
    assert slider_step(default) == step


def test_when_triton_cannot_name_its_model_the_rest_still_answers(monkeypatch, tmp_path):
    body, document = config_of(monkeypatch, Settings(model_repository=tmp_path), DOWN)
    assert body["model"] == {"available": False, "identity": None, "detail": DOWN.detail}
    assert body["image_size"] is None
    assert body["components"] == list(COMPONENTS) and body["t"]["default"] == DEFAULT_T
    assert_documented(body, document)


def test_a_real_gateway_without_triton_answers_with_the_model_unavailable(tmp_path):
    """The page must load its controls while Triton is down: 200 and what it needs, at once,
    with S2I_DEFAULT_T read from the environment."""
    no_triton = f"127.0.0.1:{free_port()}"
    process, url = start_gateway(no_triton, tmp_path / "no_repository",
                                 tmp_path / "gateway.log", env={"S2I_DEFAULT_T": "0.35"})
    try:
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 503
        started = time.monotonic()
        response = httpx.get(f"{url}{CONFIG_PATH}", timeout=30)
        assert time.monotonic() - started < 10
        document = httpx.get(f"{url}/openapi.json", timeout=10).json()
    finally:
        process.stop()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["t"] == {"default": 0.35, "minimum": contract.T_RANGE[0],
                         "maximum": contract.T_RANGE[1], "step": 0.05}
    assert body["components"] == list(COMPONENTS) and body["looks"]["looks"]
    assert body["image_size"] is None
    model = body["model"]
    assert model["available"] is False and model["identity"] is None
    assert "not reachable" in model["detail"], model
    assert_documented(body, document)
    assert "Traceback" not in (tmp_path / "gateway.log").read_text()


def test_with_triton_the_config_names_the_model_a_face_reports(gateway_url):
    body = httpx.get(f"{gateway_url}{CONFIG_PATH}", timeout=30).json()
    face = httpx.post(f"{gateway_url}/v1/faces", headers={"Accept": "application/json"},
                      files={"sketch": ("sketch.png", png_drawing(), "image/png")},
                      timeout=60).json()
    assert body["model"]["available"] is True and body["model"]["detail"] is None
    # The projection version is known per answer (a hot swap may change it).
    assert body["model"]["identity"] == {**face["model"], "projection_version": ""}
    assert (body["image_size"],) * 2 == Image.open(io.BytesIO(base64.b64decode(
        face["face"]))).size


def png_drawing() -> bytes:
    drawing = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(drawing).ellipse((40, 20, 160, 180), outline=0, width=4)
    return encode(drawing, "PNG")
