"""Every refusal the gateway makes: a status, a short code, a sentence for people."""

from __future__ import annotations

import asyncio
import json
import logging

from fastapi.responses import JSONResponse

from sketch2idol.gateway.metrics import GatewayMetrics

log = logging.getLogger("sketch2idol.gateway")

#: A refusal made before the app reads the body (rate limit, CORS) first reads and drops up
#: to this much of it, for at most DRAIN_TIMEOUT_S: a client still uploading when the answer
#: and the close come gets a connection reset instead of the answer (seen with httpx).
DRAIN_LIMIT_BYTES = 1024 * 1024
DRAIN_TIMEOUT_S = 2.0


class ApiError(Exception):
    """Turned into `{"error": code, "detail": detail}` with `status` (and `headers`); a
    refusal of one form field names it: `{"error", "detail", "field"}`."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None, field: str | None = None):
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.field = field

    def body(self) -> dict[str, str]:
        body = {"error": self.code, "detail": self.detail}
        if self.field is not None:
            body["field"] = self.field
        return body


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


class Refusals:
    """Every refusal is counted (by code) and logged: INFO for the client's mistakes,
    WARNING for ours."""

    def __init__(self, metrics: GatewayMetrics):
        self.metrics = metrics

    def note(self, error: ApiError, client: str | None = None) -> None:
        self.metrics.rejected.labels(error.code).inc()
        source = f" (client {client})" if client else ""
        if error.status < 500:
            log.info("rejected %s%s: %s", error.code, source, error.detail)
        else:
            log.warning("unavailable %s%s: %s", error.code, source, error.detail)

    def respond(self, error: ApiError) -> JSONResponse:
        """Note the refusal and answer it."""
        self.note(error)
        return error_response(error)


def unavailable(detail: str, retry_after_s: int = 2) -> ApiError:
    return ApiError(503, "model_unavailable", detail, {"Retry-After": str(retry_after_s)})


async def send_error(send, error: ApiError) -> None:
    """Answer with the error's JSON straight through ASGI `send` (for middlewares that refuse
    a request before the app sees it); the connection is closed after it, as the request's
    body may not have been read."""
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
               *((name.lower().encode("latin-1"), value.encode("latin-1"))
                 for name, value in error.headers.items())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def drain_body(receive, limit_bytes: int = DRAIN_LIMIT_BYTES,
                     timeout_s: float = DRAIN_TIMEOUT_S) -> bool:
    """Read and drop the request body; False when it was bigger than `limit_bytes`, or slower
    than `timeout_s`, or the client left (then the answer may not reach it anyway)."""
    async def read() -> bool:
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return False
            received += len(message.get("body", b""))
            if received > limit_bytes:
                return False
            if not message.get("more_body", False):
                return True
    try:
        return await asyncio.wait_for(read(), timeout_s)
    except TimeoutError:
        return False


async def refuse_unread(receive, send, error: ApiError) -> None:
    """`send_error` for a request whose body the app never read: the body is drained first
    (bounded) so that the client, done uploading, reads the answer."""
    await drain_body(receive)
    await send_error(send, error)
