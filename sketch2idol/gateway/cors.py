"""CORS for the gateway: closed unless S2I_CORS_ORIGINS names the origins allowed.

Closed (the default) means no CORS middleware at all: no response carries
Access-Control-Allow-Origin, so a page on another origin cannot read any answer, and a
preflight (OPTIONS) is 405 like any other unknown method. Open, `JsonCorsMiddleware` is
Starlette's CORSMiddleware answering a refused preflight (origin, method or header not
allowed) with the gateway's JSON error instead of plain text.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response

from sketch2idol.gateway.errors import ApiError

ALLOW_METHODS = ("GET", "POST")
ALLOW_HEADERS = ("Accept",)
#: Response headers a page on an allowed origin may read.
EXPOSE_HEADERS = ("Retry-After", "X-Model-Version", "X-Look", "Server-Timing")
REFUSED_PREFIX = "Disallowed CORS "


class JsonCorsMiddleware(CORSMiddleware):
    def __init__(self, app, origins: tuple[str, ...],
                 on_refuse: Callable[[ApiError], None] | None = None):
        super().__init__(app, allow_origins=list(origins), allow_methods=list(ALLOW_METHODS),
                         allow_headers=list(ALLOW_HEADERS),
                         expose_headers=list(EXPOSE_HEADERS))
        self.on_refuse = on_refuse or (lambda error: None)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix(REFUSED_PREFIX)
        error = ApiError(400, "cors_refused", f"this cross-origin request is not allowed "
                         f"(refused: {refused})")
        self.on_refuse(error)
        headers = {name: value for name, value in response.headers.items()
                   if name.lower() not in ("content-length", "content-type")}
        return JSONResponse(error.body(), error.status, headers)
