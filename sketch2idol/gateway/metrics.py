"""The gateway's Prometheus metrics (prometheus-client), one registry per app instance.

    sketch2idol_gateway_request_duration_seconds{route,method,status}   histogram
    sketch2idol_gateway_triton_duration_seconds{outcome}                histogram
    sketch2idol_gateway_rejected_uploads_total{reason}                  counter
    sketch2idol_gateway_in_flight_requests                              gauge
    sketch2idol_gateway_build_info{version,triton_grpc}                 gauge = 1
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sketch2idol import __version__

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0,
                   10.0)
UNMATCHED_ROUTE = "unmatched"


class GatewayMetrics:
    def __init__(self, triton_grpc: str):
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "sketch2idol_gateway_request_duration_seconds", "Gateway request latency",
            ("route", "method", "status"), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.triton = Histogram(
            "sketch2idol_gateway_triton_duration_seconds",
            "Round trip of one sketch2face call to Triton", ("outcome",),
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rejected = Counter(
            "sketch2idol_gateway_rejected_uploads_total", "Requests refused, by reason",
            ("reason",), registry=self.registry)
        self.in_flight = Gauge(
            "sketch2idol_gateway_in_flight_requests", "Requests being processed",
            registry=self.registry)
        Gauge("sketch2idol_gateway_build_info", "Gateway build", ("version", "triton_grpc"),
              registry=self.registry).labels(__version__, triton_grpc).set(1)


class RequestMetricsMiddleware:
    """ASGI middleware: latency by route template (not raw path), method and status."""

    def __init__(self, app, metrics: GatewayMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_and_record(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            self.metrics.requests.labels(
                getattr(route, "path", UNMATCHED_ROUTE), scope["method"],
                str(status["code"])).observe(time.perf_counter() - started)
