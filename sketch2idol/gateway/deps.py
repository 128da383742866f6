"""What a route needs, as FastAPI dependencies: each reads the one instance `create_app` put
on `app.state` (settings, metrics, refusal log, concurrency limit, guides, the Triton link)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sketch2idol.gateway.errors import Refusals
from sketch2idol.gateway.guides import GuideLibrary
from sketch2idol.gateway.limits import ConcurrencyLimit
from sketch2idol.gateway.metrics import GatewayMetrics
from sketch2idol.gateway.settings import Settings
from sketch2idol.gateway.triton import TritonLink


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_metrics(request: Request) -> GatewayMetrics:
    return request.app.state.metrics


def get_refusals(request: Request) -> Refusals:
    return request.app.state.refusals


def get_limit(request: Request) -> ConcurrencyLimit:
    return request.app.state.limit


def get_guides(request: Request) -> GuideLibrary:
    return request.app.state.guides


def get_triton(request: Request) -> TritonLink:
    return request.app.state.triton  # opened by the app's lifespan


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[GatewayMetrics, Depends(get_metrics)]
RefusalsDep = Annotated[Refusals, Depends(get_refusals)]
LimitDep = Annotated[ConcurrencyLimit, Depends(get_limit)]
GuidesDep = Annotated[GuideLibrary, Depends(get_guides)]
TritonDep = Annotated[TritonLink, Depends(get_triton)]
