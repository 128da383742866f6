"""What the gateway's OpenAPI document (/openapi.json) promises, so that a client (or a fuzzer)
can hold every answer to it: the response bodies as pydantic models, every status a route
can answer, the multipart encoding of the drawing and the rules of the faces form that
FastAPI cannot derive from the handler's signature (unknown fields are refused; `include`
takes comma-separated lists; the colours' syntax; the look names).
"""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, create_model

from sketch2idol.core.contract import LOOK_FIELDS
from sketch2idol.core.faces_request import CONTENT_TYPES
from sketch2idol.core.looks import RANDOM_LOOK
from sketch2idol.gateway.looks import COLOUR_HELP, COLOUR_PATTERN, HEX_PATTERN, LOOK_NAMES, SEED_MAX
from sketch2idol.gateway.request_config import SLIDER_STEPS
from sketch2idol.gateway.triton import ModelIdentity

#: What `sketch2idol.gateway.uploads.include_set` accepts in one `include` field: comma-separated
#: values,
#: blank parts and surrounding whitespace ignored (Python `\s` is exactly `str.isspace`).
INCLUDE_PATTERN = r"^\s*(refined|neighbors|guide)?\s*(,\s*(refined|neighbors|guide)?\s*)*$"
#: Content types the drawing may be sent as (it is recognised by content all the same).
SKETCH_CONTENT_TYPES = ", ".join(CONTENT_TYPES.values())
#: A JSON string that holds a PNG (JSON Schema's content annotations).
BASE64_PNG = {"contentEncoding": "base64", "contentMediaType": "image/png"}


class ErrorBody(BaseModel):
    """Every refusal: a short machine code and a sentence for people."""

    error: str = Field(description="short code, e.g. too_large, unsupported_format, invalid_t")
    detail: str = Field(description="what was wrong, in a sentence")
    field: str = Field(None, description="the form field at fault, when the refusal is about "
                                         "one (e.g. t_mouth, hair, look, seed)")


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]


#: The seven colours of a look as the gateway writes them (#rrggbb, lower case), in the
#: ensemble's APPEARANCE order.
_COLOURS = {field: (str, Field(description=COLOUR_HELP[field], pattern=HEX_PATTERN))
            for field in LOOK_FIELDS}
LookJson = create_model(
    "LookJson", __doc__="The look a face was painted in: where it came from, its colours.",
    name=(str, Field(description=f"the named look the colours not given came from, or "
                                 f"{RANDOM_LOOK}", json_schema_extra={"enum": list(LOOK_NAMES)})),
    seed=(int | None, Field(description=f"the seed of a {RANDOM_LOOK} look (picked by the "
                                        "gateway when the request gave none), else null",
                            ge=0, le=SEED_MAX)),
    **_COLOURS)
NamedLook = create_model("NamedLook", __doc__="A named look and its colours.",
                         name=(str, Field(description="its `look` value")), **_COLOURS)


class Looks(BaseModel):
    """GET /v1/looks: the named looks a request may ask for, with their colours."""

    default: str = Field(description="the look of a request that names none")
    random: str = Field(description="the `look` value that draws a look from the training "
                                    "distribution (with `seed`)")
    fields: list[str] = Field(description="the colour fields of a look, in APPEARANCE order")
    looks: list[NamedLook]


class BlendConfig(BaseModel):
    """The blend `t` of a component: the form's `t` (every component) and `t_<component>`."""

    model_config = ConfigDict(extra="forbid")

    default: float = Field(description="the t of a request that gives none (S2I_DEFAULT_T)")
    minimum: float
    maximum: float
    step: float = Field(description="the drawing page's slider step: the coarsest of "
                                    f"{', '.join(f'{step:g}' for step in SLIDER_STEPS)} that "
                                    "the default lies on")


class UploadLimits(BaseModel):
    """What a `sketch` upload may be."""

    model_config = ConfigDict(extra="forbid")

    content_types: list[str] = Field(description="the formats a drawing may be in (recognised "
                                                 "by content)")
    max_bytes: int = Field(description="the largest request body, the drawing included")
    max_pixels: int = Field(description="the largest image, width x height")
    min_side: int = Field(description="the fewest pixels on the image's longer side")


class ModelStatus(BaseModel):
    """The served model, or why it cannot be named now (the rest of the configuration
    holds all the same)."""

    model_config = ConfigDict(extra="forbid")

    available: bool = Field(description="whether Triton answered with the model's identity")
    identity: ModelIdentity | None = Field(description="as a face's JSON `model` reports it "
                                           "(projection_version: empty, known per answer); "
                                           "null when not available")
    detail: str | None = Field(description="why the model is not available, else null")


class RequestConfig(BaseModel):
    """GET /v1/config: what a client (the drawing page) needs to build a faces request."""

    model_config = ConfigDict(extra="forbid")

    components: list[str] = Field(description="the face's components, in the order of the "
                                              "blend fields `t_<component>`")
    t: BlendConfig
    include: list[str] = Field(description="the values `include` takes")
    looks: Looks = Field(description="the look fields and the named looks (GET /v1/looks)")
    upload: UploadLimits
    image_size: int | None = Field(description="the side of the face the served model makes "
                                               "(and of the framed sketch it takes); null "
                                               "when the model is not available")
    model: ModelStatus


class FaceJson(BaseModel):
    """The JSON answer (`Accept: application/json`); the extras only when `include` asks."""

    face: str = Field(description="the face, a base64 PNG", json_schema_extra=BASE64_PNG)
    refined: str = Field(None, description="the refined sketch, a base64 PNG "
                         "(include=refined)", json_schema_extra=BASE64_PNG)
    neighbors: dict[str, list[int]] = Field(None, description="per component, the feature "
                                            "bank rows of its K neighbours (include=neighbors)")
    neighbor_ids: dict[str, list[str]] = Field(None, description="the same neighbours as "
                                               "training sample ids (include=neighbors)")
    guide: str | None = Field(None, description="the drawing guide, a base64 PNG, or null "
                              "when the training sketches are not at hand (include=guide)",
                              json_schema_extra=BASE64_PNG)
    timings_ms: dict[str, float]
    model: ModelIdentity
    look: LookJson


ERRORS = {
    400: ("bad_request", "the multipart body cannot be parsed"),
    408: ("request_timeout", "the body did not arrive within the request deadline"),
    413: ("too_large", "the body or the image is too large"),
    415: ("unsupported_format", "the drawing is not a PNG or JPEG"),
    422: ("invalid_t", "a bad or unknown field (a bad colour, look or seed names it in "
                       "`field`), or an unreadable image"),
    429: ("rate_limited", "too many requests from this client, or in progress (see "
                          "Retry-After)"),
    502: ("model_error", "the model server failed on this request"),
    503: ("model_unavailable", "Triton is down or not ready (see Retry-After)"),
    504: ("deadline_exceeded", "not answered within the request deadline"),
}


def error_responses(*statuses: int) -> dict[int, dict]:
    """FastAPI `responses` entries: each status with the JSON `ErrorBody` and an example."""
    return {status: {"model": ErrorBody, "description": ERRORS[status][1],
                     "content": {"application/json": {"example": {
                         "error": ERRORS[status][0],
                         "detail": "a sentence saying what was wrong"}}}}
            for status in statuses}


FACES_RESPONSES = {
    200: {"model": FaceJson,
          "description": "the face as a PNG; with `Accept: application/json`, JSON with extras",
          "content": {"image/png": {"schema": {"type": "string",
                                               "contentMediaType": "image/png"}}}},
    **error_responses(400, 408, 413, 415, 422, 429, 502, 503, 504),
}
FACES_OPENAPI_EXTRA = {"requestBody": {"content": {"multipart/form-data": {
    "encoding": {"sketch": {"contentType": SKETCH_CONTENT_TYPES}}}}}}


def close_form(schema: dict, path: str) -> None:
    """The multipart form of POST `path` in `schema` refuses unknown fields (as
    `check_form_fields` does), `include` carries its pattern (as `include_set` reads it),
    each colour the pattern `sketch2idol.core.looks.parse_hex` accepts and `look` its names.
    (Not pydantic constraints of the form: its regular expressions are not Python's.)"""
    body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
    form = schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    form["additionalProperties"] = False
    form["properties"]["include"]["items"] = {"type": "string", "pattern": INCLUDE_PATTERN}
    for field in LOOK_FIELDS:
        form["properties"][field]["pattern"] = COLOUR_PATTERN
    form["properties"]["look"]["enum"] = list(LOOK_NAMES)


def install(app: FastAPI, form_path: str) -> None:
    """`app.openapi()` (what /openapi.json and /docs serve) with `close_form` applied."""
    build = app.openapi  # FastAPI's own: builds the document once and caches it

    def openapi() -> dict:
        schema = build()
        close_form(schema, form_path)  # idempotent
        return schema

    app.openapi = openapi
