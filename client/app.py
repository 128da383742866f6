"""The sketch2idol gateway: a thin FastAPI front for the Triton `sketch2face` ensemble.

    uvicorn --factory client.app:create_app          (or: sketch2idol gateway)

Routes: POST /v1/faces, GET /v1/looks, GET /v1/config, GET /healthz, GET /readyz, GET
/metrics, GET / (the drawing page), /static/*, OpenAPI at /docs. Every refusal is JSON
{"error": code, "detail": sentence} (and "field" when one form field is at fault).
"""

from __future__ import annotations

import base64
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from client.cors import JsonCorsMiddleware
from client.deadline import DeadlineMiddleware
from client.errors import ApiError
from client.guides import GuideLibrary, GuideSource
from client.limits import BODY_CUT_OFF, BodyLimitMiddleware, ConcurrencyLimit
from client.looks import (
    COLOUR_HELP,
    LOOK_FORM_FIELDS,
    SEED_FIELD,
    SEED_MAX,
    choose_look,
    look_refusal,
    looks_catalogue,
    parse_seed,
    seed_refusal,
)
from client.metrics import GatewayMetrics, RequestMetricsMiddleware
from client.openapi import (
    FACES_OPENAPI_EXTRA,
    FACES_RESPONSES,
    Health,
    Looks,
    Ready,
    RequestConfig,
    error_responses,
)
from client.openapi import install as install_openapi
from client.ratelimit import ClientLimitsMiddleware, TokenBuckets
from client.request_config import request_config
from client.settings import Settings
from client.triton import TritonLink
from client.uploads import decode_drawing, frame_drawing, include_set, png_bytes, t_error, t_vector
from sketch2idol import __version__
from sketch2idol.contract import LOOK_FIELDS, T_RANGE
from sketch2idol.geometry import COMPONENTS
from sketch2idol.looks import DEFAULT_LOOK, RANDOM_LOOK, LookError

STATIC_DIR = Path(__file__).resolve().parent / "static"
FORM_FIELDS = {"sketch", "t", "include", *(f"t_{name}" for name in COMPONENTS),
               *LOOK_FORM_FIELDS}
BLEND_FIELDS = {"t", *(f"t_{name}" for name in COMPONENTS)}
#: Probes and scrapes: never rate-limited.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
log = logging.getLogger("sketch2idol.gateway")

# Optional (default None) but documented as a plain number: a form field cannot be null.
Blend = Annotated[float, Field(ge=T_RANGE[0], le=T_RANGE[1], allow_inf_nan=False)]
# Documented as an integer; read from the form as sent (`parse_seed`), as pydantic would
# also take `1_000` or `1.0`.
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    metrics = GatewayMetrics(settings.triton_grpc)
    limit = ConcurrencyLimit(settings.max_concurrency)
    guides = GuideLibrary(settings.model_repository)  # one bank per projection version

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.triton = TritonLink(settings)
        yield
        await app.state.triton.close()

    app = FastAPI(title="sketch2idol gateway", version=__version__, lifespan=lifespan,
                  description="Rough face sketch in, face portrait out (Triton sketch2face).")
    app.state.settings = settings
    app.state.metrics = metrics

    def note(error: ApiError, client: str | None = None) -> None:
        """Count and log a refusal: INFO for the client's mistakes, WARNING for ours."""
        metrics.rejected.labels(error.code).inc()
        source = f" (client {client})" if client else ""
        if error.status < 500:
            log.info("rejected %s%s: %s", error.code, source, error.detail)
        else:
            log.warning("unavailable %s%s: %s", error.code, source, error.detail)

    def reject(error: ApiError) -> JSONResponse:
        note(error)
        return error_response(error)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return reject(error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        refusal = ApiError(error.status_code, codes.get(error.status_code, "http_error"),
                           detail.rstrip(".") + ".", dict(error.headers or {}))
        if getattr(request.state, BODY_CUT_OFF, False):  # BodyLimitMiddleware answers 413
            return error_response(refusal)
        return reject(refusal)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for problem in error.errors():
            where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
            if where in BLEND_FIELDS:  # one clear sentence, as for t_vector's own checks
                return reject(t_error(where, problem.get("input")))
            if where == SEED_FIELD:
                return reject(seed_refusal(problem.get("input")))
            if where in LOOK_FORM_FIELDS:  # e.g. a colour sent as a file
                return reject(look_refusal(LookError(where, "must be a text field, not a "
                                                            "file")))
            if where == "sketch" and problem.get("type") != "missing":
                problems.append("sketch: must be a file upload (a PNG or JPEG drawing)")
                continue
            problems.append(f"{where}: {problem.get('msg', 'invalid')}")
        return reject(ApiError(422, "invalid_request", "; ".join(problems)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # A bug: the log gets the traceback (uvicorn), the client a JSON 500 without one.
        return reject(ApiError(500, "internal_error", "the gateway failed on this request"))

    @app.get("/healthz", summary="the gateway process is alive", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Triton is reachable and sketch2face is ready",
             response_model=Ready, responses=error_responses(503))
    async def readyz(request: Request):
        if await request.app.state.triton.ready():
            return {"status": "ready"}
        return error_response(ApiError(503, "not_ready", "the sketch2face model is not ready",
                                       {"Retry-After": "2"}))

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/v1/looks", summary="the named looks a face can be painted in",
             response_model=Looks, responses=error_responses(429))
    async def looks() -> dict:
        return looks_catalogue()

    @app.get("/v1/config", summary="what a faces request takes: components, t, looks, "
             "upload limits, the served model", response_model=RequestConfig,
             responses=error_responses(429))
    async def config(request: Request) -> dict:
        return await request_config(settings, request.app.state.triton)

    @app.post("/v1/faces", summary="sketch in, face out",
              response_model=None, responses=FACES_RESPONSES,
              openapi_extra=FACES_OPENAPI_EXTRA)
    async def faces(
        request: Request,
        sketch: Annotated[UploadFile, File(description="PNG or JPEG drawing, any size")],
        t: Annotated[Blend, Form(description="blend for every component: 1 keeps the "
                                             "drawing, 0 snaps to the learned faces")] = None,
        t_left_eye: Annotated[Blend, Form()] = None,
        t_right_eye: Annotated[Blend, Form()] = None,
        t_nose: Annotated[Blend, Form()] = None,
        t_mouth: Annotated[Blend, Form()] = None,
        t_remainder: Annotated[Blend, Form()] = None,
        include: Annotated[list[str], Form(description="any of refined, neighbors, guide "
                                                       "(repeated or comma-separated)")] = [],  # noqa: B006
        look: Annotated[str, Form(description=f"a named look (GET /v1/looks) or "
                                              f"{RANDOM_LOOK}; default {DEFAULT_LOOK}, or "
                                              f"{RANDOM_LOOK} when a seed is given")] = None,
        seed: Annotated[Seed, Form(description=f"the {RANDOM_LOOK} look to draw (picked and "
                                               "reported when not given)")] = None,
        hair: Annotated[str, Form(description=COLOUR_HELP["hair"])] = None,
        skin: Annotated[str, Form(description=COLOUR_HELP["skin"])] = None,
        eyes: Annotated[str, Form(description=COLOUR_HELP["eyes"])] = None,
        lips: Annotated[str, Form(description=COLOUR_HELP["lips"])] = None,
        clothes: Annotated[str, Form(description=COLOUR_HELP["clothes"])] = None,
        background: Annotated[str, Form(description=COLOUR_HELP["background"])] = None,
        background2: Annotated[str, Form(description=COLOUR_HELP["background2"])] = None,
    ) -> Response:
        started = time.perf_counter()
        form = await request.form()
        check_form_fields(form)
        with limit:
            wanted = include_set(include)
            blend = t_vector(t, {"left_eye": t_left_eye, "right_eye": t_right_eye,
                                 "nose": t_nose, "mouth": t_mouth, "remainder": t_remainder},
                             settings.default_t)
            # As sent: FastAPI reads an empty value as "not given" (choose_look refuses it).
            chosen = choose_look(form.get("look"), parse_seed(form.get(SEED_FIELD)),
                                 {field: form.get(field) for field in LOOK_FIELDS})
            drawing = await run_in_threadpool(decode_drawing, await sketch.read(),
                                              settings.max_body_bytes, settings.max_pixels)
            triton: TritonLink = request.app.state.triton
            identity = await triton.identity()
            framed = await run_in_threadpool(frame_drawing, drawing, identity.size)
            decoded = time.perf_counter()
            try:
                result = await triton.sketch2face(framed[None], blend[None],
                                                  chosen.vector()[None])
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

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_openapi(app, form_path="/v1/faces")
    # Outermost last: metrics -> CORS -> per-client limits -> deadline -> body limit -> app,
    # so every refusal is counted and carries the CORS headers a browser needs to read it.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       on_reject=lambda reason: note(ApiError(413, reason, "the request body "
                                                              "is over the limit")))
    app.add_middleware(DeadlineMiddleware, seconds=settings.request_deadline_s, on_timeout=note)
    app.add_middleware(ClientLimitsMiddleware, exempt=UNLIMITED_PATHS, on_reject=note,
                       buckets=TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst)
                       if settings.rate_limit_per_s > 0 else None,
                       max_in_flight=settings.max_client_concurrency)
    if settings.cors_origins:  # else closed: no CORS headers at all
        app.add_middleware(JsonCorsMiddleware, origins=settings.cors_origins, on_refuse=note)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app


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
        if guides is not None and guides.drawable:
            remainder = rows[COMPONENTS.index("remainder")]
            body["guide"] = b64(png_bytes(guides.guide(remainder, result.face.shape[1])))
        else:
            body["guide"] = None
    return body

