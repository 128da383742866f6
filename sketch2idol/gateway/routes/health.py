"""Probes and the Prometheus scrape: GET /healthz, /readyz, /metrics (never rate-limited)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sketch2idol.gateway.deps import MetricsDep, TritonDep
from sketch2idol.gateway.errors import ApiError, error_response
from sketch2idol.gateway.openapi import Health, Ready, error_responses

router = APIRouter()
PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@router.get("/healthz", summary="the gateway process is alive", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Triton is reachable and sketch2face is ready",
            response_model=Ready, responses=error_responses(503))
async def readyz(triton: TritonDep):
    if await triton.ready():
        return {"status": "ready"}
    return error_response(ApiError(503, "not_ready", "the sketch2face model is not ready",
                                   {"Retry-After": "2"}))


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
