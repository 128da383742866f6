"""The sketch2idol gateway: a thin FastAPI front for the Triton `sketch2face` ensemble.

    uvicorn --factory sketch2idol.gateway.app:create_app          (or: sketch2idol gateway)

Routes: POST /v1/faces, GET /v1/looks, GET /v1/config, GET /healthz, GET /readyz, GET
/metrics, GET / (the drawing page), /static/*, OpenAPI at /docs. Every refusal is JSON
{"error": code, "detail": sentence} (and "field" when one form field is at fault).

This module only wires: settings and the shared instances on `app.state` (read by routes
through `deps.py`), the exception handlers (`handlers.py`), one router per resource
(`routes/`), the static files and the middlewares.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles

from sketch2idol import __version__
from sketch2idol.gateway import handlers
from sketch2idol.gateway.cors import JsonCorsMiddleware
from sketch2idol.gateway.deadline import DeadlineMiddleware
from sketch2idol.gateway.errors import ApiError, Refusals
from sketch2idol.gateway.guides import GuideLibrary
from sketch2idol.gateway.limits import BodyLimitMiddleware, ConcurrencyLimit
from sketch2idol.gateway.metrics import GatewayMetrics, RequestMetricsMiddleware
from sketch2idol.gateway.openapi import install as install_openapi
from sketch2idol.gateway.ratelimit import ClientLimitsMiddleware, TokenBuckets
from sketch2idol.gateway.routes import faces, health, page
from sketch2idol.gateway.routes.page import STATIC_DIR
from sketch2idol.gateway.settings import Settings
from sketch2idol.gateway.triton import TritonLink

#: Probes and scrapes: never rate-limited.
UNLIMITED_PATHS = health.PATHS


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.triton = TritonLink(settings)
        yield
        await app.state.triton.close()

    app = FastAPI(title="sketch2idol gateway", version=__version__, lifespan=lifespan,
                  description="Rough face sketch in, face portrait out (Triton sketch2face).")
    app.state.settings = settings
    app.state.metrics = metrics = GatewayMetrics(settings.triton_grpc)
    app.state.refusals = refusals = Refusals(metrics)
    app.state.limit = ConcurrencyLimit(settings.max_concurrency)
    app.state.guides = GuideLibrary(settings.model_repository)  # one bank per projection version

    handlers.install(app, refusals)
    for router in (health.router, page.router, faces.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_openapi(app, form_path=faces.PATH)
    # Outermost last: metrics -> CORS -> per-client limits -> deadline -> body limit -> app,
    # so every refusal is counted and carries the CORS headers a browser needs to read it.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes,
                       on_reject=lambda reason: refusals.note(
                           ApiError(413, reason, "the request body is over the limit")))
    app.add_middleware(DeadlineMiddleware, seconds=settings.request_deadline_s,
                       on_timeout=refusals.note)
    app.add_middleware(ClientLimitsMiddleware, exempt=UNLIMITED_PATHS, on_reject=refusals.note,
                       buckets=TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst)
                       if settings.rate_limit_per_s > 0 else None,
                       max_in_flight=settings.max_client_concurrency)
    if settings.cors_origins:  # else closed: no CORS headers at all
        app.add_middleware(JsonCorsMiddleware, origins=settings.cors_origins,
                           on_refuse=refusals.note)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app


def route_paths(app: FastAPI) -> set[str]:
    """Every path the app answers (routers are included lazily: `app.routes` holds them as
    one entry each, not their routes)."""
    return {context.path for context in iter_route_contexts(app.routes)}
