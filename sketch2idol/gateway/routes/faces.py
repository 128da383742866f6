"""POST /v1/faces: a drawing (and t, a look, extras) in; the face out, as PNG or JSON."""

from __future__ import annotations

import base64
import inspect
import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from sketch2idol.core.contract import LOOK_FIELDS, T_RANGE
from sketch2idol.core.faces_request import frame_drawing
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.looks import DEFAULT_LOOK, RANDOM_LOOK
from sketch2idol.gateway.deps import GuidesDep, LimitDep, MetricsDep, SettingsDep, TritonDep
from sketch2idol.gateway.errors import ApiError
from sketch2idol.gateway.guides import GuideSource
from sketch2idol.gateway.looks import (
    COLOUR_HELP,
    LOOK_FORM_FIELDS,
    SEED_FIELD,
    SEED_MAX,
    choose_look,
    parse_seed,
)
from sketch2idol.gateway.openapi import FACES_OPENAPI_EXTRA, FACES_RESPONSES
from sketch2idol.gateway.uploads import decode_drawing, include_set, png_bytes, t_error, t_vector

PATH = "/v1/faces"
FORM_FIELDS = {"sketch", "t", "include", *(f"t_{name}" for name in COMPONENTS),
               *LOOK_FORM_FIELDS}
BLEND_FIELDS = {"t", *(f"t_{name}" for name in COMPONENTS)}

# Optional (default None) but documented as a plain number: a form field cannot be null.
Blend = Annotated[float, Field(ge=T_RANGE[0], le=T_RANGE[1], allow_inf_nan=False)]
# Documented as an integer; read from the form as sent (`parse_seed`), as pydantic would
# also take `1_000` or `1.0`.
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]

router = APIRouter()


async def faces(
    request: Request,
    settings: SettingsDep,
    metrics: MetricsDep,
    limit: LimitDep,
    guides: GuidesDep,
    triton: TritonDep,
    sketch: Annotated[UploadFile, File(description="PNG or JPEG drawing, any size")],
    t: Annotated[Blend, Form(description="blend for every component: 1 keeps the "
                                         "drawing, 0 snaps to the learned faces")] = None,
    include: Annotated[list[str], Form(description="any of refined, neighbors, guide "
                                                   "(repeated or comma-separated)")] = [],  # noqa: B006
    look: Annotated[str, Form(description=f"a named look (GET /v1/looks) or "
                                          f"{RANDOM_LOOK}; default {DEFAULT_LOOK}, or "
                                          f"{RANDOM_LOOK} when a seed is given")] = None,
    seed: Annotated[Seed, Form(description=f"the {RANDOM_LOOK} look to draw (picked and "
                                           "reported when not given)")] = None,
    **per_field,  # t_<component> for each of COMPONENTS, and the look's colours (below)
) -> Response:
    started = time.perf_counter()
    form = await request.form()
    check_form_fields(form)
    with limit:
        wanted = include_set(include)
        blend = t_vector(t, {name: per_field.get(f"t_{name}") for name in COMPONENTS},
                         settings.default_t)
        # As sent: FastAPI reads an empty value as "not given" (choose_look refuses it).
        chosen = choose_look(form.get("look"), parse_seed(form.get(SEED_FIELD)),
                             {field: form.get(field) for field in LOOK_FIELDS})
        drawing = await run_in_threadpool(decode_drawing, await sketch.read(),
                                          settings.max_body_bytes, settings.max_pixels)
        identity = await triton.identity()
        framed = await run_in_threadpool(frame_drawing, drawing, identity.size)
        decoded = time.perf_counter()
        try:
            result = await triton.sketch2face(framed[None], blend[None], chosen.vector()[None])
        except ApiError:
            metrics.triton.labels("error").observe(time.perf_counter() - decoded)
            raise
        metrics.triton.labels("ok").observe(result.seconds)
        answered = time.perf_counter()
        identity = identity.answered_by(result.projection_version)
        body = await run_in_threadpool(render_response, result, wanted,
                                       guides.for_version(result.projection_version),
                                       request.headers.get("accept", ""))
        if isinstance(body, dict):
            body["look"] = chosen.as_dict()
    timings = {"decode": 1000 * (decoded - started), "triton": 1000 * (answered - decoded),
               "encode": 1000 * (time.perf_counter() - answered)}
    timings["total"] = sum(timings.values())
    headers = {"X-Model-Version": identity.header(), "X-Look": chosen.header(),
               "Server-Timing": ", ".join(f"{k};dur={v:.1f}" for k, v in timings.items())}
    if isinstance(body, dict):
        body.update(timings_ms={k: round(v, 1) for k, v in timings.items()},
                    model=identity.as_dict())
        return JSONResponse(body, headers=headers)
    return Response(body, media_type="image/png", headers=headers)


def form_signature(endpoint) -> inspect.Signature:
    """The endpoint's signature with one optional form field per component (t_<component>)
    and per look colour, generated from COMPONENTS and LOOK_FIELDS, after `t` and the look's
    name and seed respectively: FastAPI validates and documents them like written ones."""
    parameters = list(inspect.signature(endpoint).parameters.values())
    keyword = inspect.Parameter.KEYWORD_ONLY
    blends = [inspect.Parameter(f"t_{name}", keyword, default=None,
                                annotation=Annotated[Blend, Form()]) for name in COMPONENTS]
    colours = [inspect.Parameter(field, keyword, default=None,
                                 annotation=Annotated[str, Form(description=COLOUR_HELP[field])])
               for field in LOOK_FIELDS]
    named = [p.replace(kind=keyword) if p.default is not inspect.Parameter.empty else p
             for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
    at_t = next(i for i, p in enumerate(named) if p.name == "t") + 1
    return inspect.Signature(named[:at_t] + blends + named[at_t:] + colours)


faces.__signature__ = form_signature(faces)
router.post(PATH, summary="sketch in, face out", response_model=None,
            responses=FACES_RESPONSES, openapi_extra=FACES_OPENAPI_EXTRA)(faces)


def check_form_fields(form) -> None:
    """Unknown and repeated single-valued fields, and empty blends, are mistakes worth saying
    out loud."""
    unknown = sorted(set(form.keys()) - FORM_FIELDS)
    if unknown:
        raise ApiError(422, "unknown_field", f"unknown form field(s) {', '.join(unknown)}; "
                       f"expected {', '.join(sorted(FORM_FIELDS))}",
                       field=unknown[0] if len(unknown) == 1 else None)
    for name in sorted(FORM_FIELDS - {"include"}):
        if len(form.getlist(name)) > 1:
            raise ApiError(422, "duplicate_field", f"the form field {name} is given "
                           f"{len(form.getlist(name))} times; give it once", field=name)
    for name in sorted(BLEND_FIELDS & set(form.keys())):
        # FastAPI reads an empty form value as "not given"; for a number it is a mistake.
        if isinstance(form[name], str) and not form[name].strip():
            raise t_error(name, form[name])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render_response(result, wanted: set[str], guides: GuideSource | None,
                    accept: str) -> bytes | dict:
    """PNG bytes of the face, or (Accept: application/json) the JSON body with extras."""
    face_png = png_bytes(result.face[0])
    if "application/json" not in accept:
        return face_png
    body: dict = {"face": b64(face_png)}
    if "refined" in wanted:
        body["refined"] = b64(png_bytes(result.refined[0]))
    rows = result.neighbors[0]  # [5, K]
    if "neighbors" in wanted:
        body["neighbors"] = {name: [int(r) for r in rows[c]]
                             for c, name in enumerate(COMPONENTS)}
        if guides is not None:
            body["neighbor_ids"] = {name: guides.sample_ids(rows[c])
                                    for c, name in enumerate(COMPONENTS)}
    if "guide" in wanted:
        guide = None if guides is None else \
            guides.guide(rows[COMPONENTS.index("remainder")], result.face.shape[1])
        body["guide"] = None if guide is None else b64(png_bytes(guide))
    return body
