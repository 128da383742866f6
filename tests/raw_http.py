"""HTTP/1.1 by hand over a socket, for requests an HTTP client library will not send as they
are: request targets with `..`, `%2e%2e` or backslashes (httpx normalises them), bodies
trickled in slowly or cut off half-way.

    answer = exchange(url, head("GET", "/static/../x", url), timeout_s=10)

Importable from any test: tests/conftest.py puts this directory on sys.path.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class Answer:
    """A response, however it was obtained."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    seconds: float

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                   response.content, response.elapsed.total_seconds())


def head(method: str, target: str, url: str, headers: dict[str, str] | None = None,
         body_length: int | None = None) -> bytes:
    """The request line and headers, sent exactly as given (`target` is not normalised)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {urlsplit(url).netloc}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body_length is not None:
        lines.append(f"Content-Length: {body_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def multipart(files: dict | None = None, data: dict | None = None) -> tuple[bytes, str]:
    """(body, content type) of a multipart form, encoded the way httpx encodes one."""
    request = httpx.Request("POST", "http://x/", files=files, data=data)
    return request.read(), request.headers["content-type"]


def exchange(url: str, request_head: bytes, pieces: Sequence[bytes] = (), gap_s: float = 0.0,
             timeout_s: float = 30.0) -> Answer:
    """Send `request_head`, then each of `pieces` with `gap_s` seconds before each, then read
    the response (a server may answer and close before everything was sent: that is fine)."""
    parts = urlsplit(url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s) as sock:
        try:
            sock.sendall(request_head)
            for piece in pieces:
                time.sleep(gap_s)
                sock.sendall(piece)
        except OSError:  # the server answered (and closed) before the body was complete
            pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers, body, time.monotonic() - started)
