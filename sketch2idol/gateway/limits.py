"""Request limits: the body size (before anything is parsed) and concurrent requests."""

from __future__ import annotations

import json

from sketch2idol.gateway.errors import ApiError

#: Set in the request state (`request.state.body_cut_off`) when the body was cut off.
BODY_CUT_OFF = "body_cut_off"


class BodyLimitMiddleware:
    """ASGI middleware: 413 for a body over `max_bytes`, by Content-Length up front or by
    counting a streamed (chunked) body, so an oversized upload is never buffered whole."""

    def __init__(self, app, max_bytes: int, on_reject=None):
        self.app = app
        self.max_bytes = max_bytes
        self.on_reject = on_reject or (lambda reason: None)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send, int(declared))
            return
        state = {"received": 0, "exceeded": False, "answered": False}

        async def counting_receive():
            if state["exceeded"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    # Stop reading; whatever the app makes of the cut-off body (a parse
                    # error, most likely) is replaced by the 413 below. BODY_CUT_OFF in the
                    # request state tells the app not to count that error as well.
                    state["exceeded"] = True
                    scope.setdefault("state", {})[BODY_CUT_OFF] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if state["exceeded"]:
                if message["type"] == "http.response.start" and not state["answered"]:
                    state["answered"] = True
                    await self._reject(send, state["received"])
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not state["exceeded"]:
                raise
        if state["exceeded"] and not state["answered"]:
            await self._reject(send, state["received"])

    async def _reject(self, send, size: int) -> None:
        self.on_reject("too_large")
        body = json.dumps({"error": "too_large", "detail": f"the request body has more than "
                           f"{self.max_bytes:,} bytes (at least {size:,}); the limit is "
                           f"{self.max_bytes:,}"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class ConcurrencyLimit:
    """At most `limit` requests in the model path at once; the next gets 429 at once."""

    def __init__(self, limit: int):
        self.limit = limit
        self.active = 0

    def __enter__(self):
        if self.active >= self.limit:
            raise ApiError(429, "busy", f"the server is handling {self.limit} requests "
                           "already; try again shortly", {"Retry-After": "1"})
        self.active += 1
        return self

    def __exit__(self, *exc_info):
        self.active -= 1

