"""A deadline for the whole request, body upload included, so no request hangs for ever.

`DeadlineMiddleware` runs the app under `asyncio.timeout(seconds)`. When the time is up
the app is cancelled (its `finally` blocks and context managers run, the Triton call is
cancelled) and, if no response has started yet, the client gets

    408 request_timeout     the body was still arriving (a slow or stalled upload)
    504 deadline_exceeded   the body was in, the processing took too long

with `{"error": code, "detail": sentence}` and the connection closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sketch2idol.gateway.errors import ApiError, send_error


def expects_body(scope) -> bool:
    """Whether the request announces a body (a non-zero Content-Length, or chunked)."""
    headers = dict(scope.get("headers") or [])
    if b"transfer-encoding" in headers:
        return True
    length = headers.get(b"content-length", b"0").strip()
    return not (length.isdigit() and int(length) == 0)


class DeadlineMiddleware:
    """ASGI middleware: every http request answers within `seconds` (408 or 504 otherwise);
    `on_timeout(error)` is told of each (metrics, log)."""

    def __init__(self, app, seconds: float,
                 on_timeout: Callable[[ApiError], None] | None = None):
        if seconds <= 0:
            raise ValueError(f"the deadline must be positive, got {seconds}")
        self.app = app
        self.seconds = seconds
        self.on_timeout = on_timeout or (lambda error: None)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = {"body_in": not expects_body(scope), "started": False}

        async def tracking_receive():
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                state["body_in"] = True
            return message

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        deadline = asyncio.timeout(self.seconds)
        try:
            async with deadline:
                await self.app(scope, tracking_receive, tracking_send)
        except TimeoutError:
            if not deadline.expired():
                raise  # the app's own TimeoutError, not ours
            error = self._error(state["body_in"])
            self.on_timeout(error)
            if not state["started"]:
                await send_error(send, error)

    def _error(self, body_in: bool) -> ApiError:
        if not body_in:
            return ApiError(408, "request_timeout", f"the request body did not arrive "
                            f"within {self.seconds:g} s")
        return ApiError(504, "deadline_exceeded", f"the request was not answered within "
                        f"{self.seconds:g} s; try again later", {"Retry-After": "2"})
