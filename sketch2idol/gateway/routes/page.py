"""The drawing page and what it reads: GET / (the page), /v1/looks, /v1/config."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from sketch2idol.gateway.deps import SettingsDep, TritonDep
from sketch2idol.gateway.looks import looks_catalogue
from sketch2idol.gateway.openapi import Looks, RequestConfig, error_responses
from sketch2idol.gateway.request_config import request_config

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/v1/looks", summary="the named looks a face can be painted in",
            response_model=Looks, responses=error_responses(429))
async def looks() -> dict:
    return looks_catalogue()


@router.get("/v1/config", summary="what a faces request takes: components, t, looks, "
            "upload limits, the served model", response_model=RequestConfig,
            responses=error_responses(429))
async def config(settings: SettingsDep, triton: TritonDep) -> dict:
    return await request_config(settings, triton)
