"""Security of the gateway and the demo, against real gateway processes: per-client rate and
concurrency limits (429 + Retry-After), CORS closed by default and open only to the
configured origins, static files that cannot be escaped, error bodies without internals, and
Triton listening on loopback only.

Two gateways of this module's own, neither with a Triton behind it (nothing here needs a
face): `closed` runs the defaults; `strict` has tight limits and one allowed CORS origin.
Clients are told apart by X-Forwarded-For, which uvicorn honours from a trusted proxy
(FORWARDED_ALLOW_IPS, default 127.0.0.1: the tests' own address).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from gateway_process import start_gateway
from image_bytes import encode
from leaks import REPOSITORY, internal_details
from PIL import Image, ImageDraw
from raw_http import exchange, head, multipart

import sketch2idol.gateway.app
from sketch2idol.cli import build_parser
from sketch2idol.cli.demo import build_supervisor
from sketch2idol.gateway.settings import Settings
from sketch2idol.launch.tritonserver import free_port, free_ports, locate_triton

RATE, BURST, CLIENT_CONCURRENCY, DEADLINE_S = 1, 3, 2, 3
ALLOWED_ORIGIN, FOREIGN_ORIGIN = "https://draw.example", "https://evil.example"
STRICT_ENV = {"S2I_RATE_LIMIT_PER_S": str(RATE), "S2I_RATE_LIMIT_BURST": str(BURST),
              "S2I_MAX_CLIENT_CONCURRENCY": str(CLIENT_CONCURRENCY),
              "S2I_REQUEST_DEADLINE_S": str(DEADLINE_S), "S2I_CORS_ORIGINS": ALLOWED_ORIGIN,
              "S2I_TRITON_DEADLINE_S": "2"}
STATIC_DIR = REPOSITORY / "sketch2idol" / "gateway" / "static"
#: Text that must never come back from a traversal attempt: bits of files outside static/.
SECRETS = (b"[project]", b"root:x:0:0", b"def create_app", b"S2I_TRITON_GRPC")


def gateway_without_triton(tmp_path_factory, name: str, env: dict):
    work = tmp_path_factory.mktemp(name)
    no_triton = f"127.0.0.1:{free_port()}"
    process, url = start_gateway(no_triton, work / "no_repository", work / "gateway.log",
                                 env=env)
    return process, url, work / "gateway.log", no_triton


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    process, url, log, no_triton = gateway_without_triton(tmp_path_factory, "closed", {})
    yield url, log, no_triton
    process.stop()


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    process, url, log, no_triton = gateway_without_triton(tmp_path_factory, "strict",
                                                          STRICT_ENV)
    yield url, log, no_triton
    process.stop()


def get(url: str, path: str, client: str, **headers) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"X-Forwarded-For": client, **headers},
                     timeout=30)


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and len(body["detail"]) > 15, body
    assert internal_details(response.text) == [], response.text
    return body


# -- per-client rate ---------------------------------------------------------------------

def test_a_client_over_its_rate_gets_429_and_is_let_in_again_later(strict):
    url = strict[0]
    client = "198.51.100.10"
    started = time.monotonic()
    answers = [get(url, "/static/style.css", client) for _ in range(BURST + 3)]
    refill = int((time.monotonic() - started) * RATE)  # tokens that came back meanwhile
    statuses = [answer.status_code for answer in answers]
    assert statuses[:BURST] == [200] * BURST
    assert 429 in statuses and statuses.count(200) <= BURST + refill, statuses
    refusal = answers[statuses.index(429)]
    body = assert_json_error(refusal, 429, "rate_limited")
    assert f"{RATE:g} per second" in body["detail"]
    retry_after = int(refusal.headers["retry-after"])
    assert 1 <= retry_after <= 1 / RATE + 1

    assert get(url, "/static/style.css", "198.51.100.11").status_code == 200  # someone else
    time.sleep(retry_after)
    assert get(url, "/static/style.css", client).status_code == 200


def test_probes_and_metrics_are_never_rate_limited(strict):
    url = strict[0]
    client = "198.51.100.20"
    for path in ("/healthz", "/readyz", "/metrics"):
        statuses = [get(url, "/", client).status_code for _ in range(BURST + 2)]
        assert statuses[-1] == 429, statuses  # the client's bucket is empty
        with ThreadPoolExecutor(BURST * 3) as pool:  # at once: no time to refill
            answers = list(pool.map(get, [url] * BURST * 3, [path] * BURST * 3,
                                    [client] * BURST * 3))
        statuses = {answer.status_code for answer in answers}
        assert 429 not in statuses, (path, statuses)


def test_uploads_refused_by_the_rate_limit_still_read_their_answer(strict):
    """A burst of concurrent uploads from one client: every one gets an HTTP answer (429
    JSON, or 503 as no Triton is behind this gateway), none a connection reset — the refusal
    drains the upload before answering and closing."""
    url = strict[0]
    noise = Image.effect_noise((400, 400), 64).convert("L")  # ~150 kB: still uploading
    upload = encode(noise, "PNG")

    async def burst() -> list:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=16)) as c:
            async def one():
                try:
                    return await c.post(f"{url}/v1/faces",
                                        headers={"X-Forwarded-For": "198.51.100.25"},
                                        files={"sketch": ("s.png", upload, "image/png")})
                except httpx.TransportError as error:
                    return error
            return await asyncio.gather(*(one() for _ in range(40)))

    answers = asyncio.run(burst())
    errors = [repr(a) for a in answers if not isinstance(a, httpx.Response)]
    assert errors == [], errors
    codes = {(a.status_code, a.json()["error"]) for a in answers}
    assert (429, "rate_limited") in codes, codes
    assert codes <= {(429, "rate_limited"), (429, "client_busy"), (503, "model_unavailable"),
                     (422, "blank_drawing"), (422, "invalid_request")}, codes


# -- per-client concurrency ----------------------------------------------------------------

def open_stalled_upload(url: str, client: str) -> socket.socket:
    """A POST /v1/faces whose body stops half-way, left open."""
    content, content_type = multipart(files={"sketch": ("s.png", b"\x89PNG" + b"0" * 4000,
                                                        "image/png")})
    sock = socket.create_connection((httpx.URL(url).host, httpx.URL(url).port), timeout=30)
    sock.sendall(head("POST", "/v1/faces", url, {"Content-Type": content_type,
                                                 "X-Forwarded-For": client},
                      body_length=len(content)) + content[:len(content) // 2])
    return sock


def test_a_client_gets_its_share_of_requests_in_flight_and_no_more(strict):
    url = strict[0]
    client = "198.51.100.30"
    held = [open_stalled_upload(url, client) for _ in range(CLIENT_CONCURRENCY)]
    try:
        time.sleep(0.5)  # the gateway has both requests in hand
        started = time.monotonic()
        refused = httpx.post(f"{url}/v1/faces", headers={"X-Forwarded-For": client},
                             files={"sketch": ("s.png", b"x", "image/png")}, timeout=30)
        assert time.monotonic() - started < DEADLINE_S / 2  # at once, not queued
        assert_json_error(refused, 429, "client_busy")
        assert refused.headers["retry-after"] == "1"
        other = httpx.post(f"{url}/v1/faces", headers={"X-Forwarded-For": "198.51.100.31"},
                           files={"sketch": ("s.png", b"x", "image/png")}, timeout=30)
        assert_json_error(other, 415, "unsupported_format")  # let in, and judged on its own
        for sock in held:  # the stalled uploads end at the request deadline
            reply = sock.recv(4096)
            assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    finally:
        for sock in held:
            sock.close()


# -- CORS ----------------------------------------------------------------------------------

def preflight(url: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(f"{url}/v1/faces", headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "X-Forwarded-For": "198.51.100.40"}, timeout=30)


def test_cors_is_closed_by_default(closed):
    url = closed[0]
    for response in (httpx.get(f"{url}/", headers={"Origin": FOREIGN_ORIGIN}, timeout=30),
                     httpx.post(f"{url}/v1/faces", headers={"Origin": FOREIGN_ORIGIN},
                                files={"sketch": ("s.png", b"x", "image/png")}, timeout=30),
                     preflight(url, FOREIGN_ORIGIN), preflight(url, ALLOWED_ORIGIN)):
        assert not any(name.startswith("access-control-") for name in response.headers), \
            dict(response.headers)
    assert_json_error(preflight(url, FOREIGN_ORIGIN), 405, "method_not_allowed")


def test_cors_opens_to_the_configured_origins_only(strict):
    url = strict[0]
    allowed = preflight(url, ALLOWED_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    refused = preflight(url, FOREIGN_ORIGIN)
    assert "access-control-allow-origin" not in refused.headers
    assert_json_error(refused, 400, "cors_refused")
    assert_json_error(preflight(url, ALLOWED_ORIGIN, "DELETE"), 400, "cors_refused")

    page = get(url, "/", "198.51.100.41", Origin=ALLOWED_ORIGIN)
    assert page.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    foreign = get(url, "/", "198.51.100.42", Origin=FOREIGN_ORIGIN)
    assert foreign.status_code == 200 and "access-control-allow-origin" not in foreign.headers


def test_a_refusal_to_an_allowed_origin_is_readable_by_its_page(strict):
    url = strict[0]
    answers = [get(url, "/", "198.51.100.43", Origin=ALLOWED_ORIGIN) for _ in range(BURST + 3)]
    refusal = next(answer for answer in answers if answer.status_code == 429)
    assert refusal.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "retry-after" in refusal.headers["access-control-expose-headers"].lower()


def test_limit_and_cors_refusals_are_logged_without_tracebacks(strict):
    url, log, _ = strict
    preflight(url, FOREIGN_ORIGIN)
    for _ in range(BURST + 2):
        get(url, "/", "198.51.100.44")
    text = log.read_text()
    assert "Traceback" not in text
    assert "INFO:     rejected cors_refused: " in text
    assert "INFO:     rejected rate_limited (client 198.51.100.44): " in text


# -- static files --------------------------------------------------------------------------

TRAVERSALS = [
    "/static/../pyproject.toml",
    "/static/../../pyproject.toml",
    "/static/../app.py",
    "/static/%2e%2e/pyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/static/.%2e/.%2e/pyproject.toml",
    "/static/..%2fpyproject.toml",
    "/static/..%2f..%2fpyproject.toml",
    "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/static/%252e%252e/%252e%252e/pyproject.toml",
    "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/pyproject.toml",
    "/static/..%5c..%5cpyproject.toml",
    "/static/..\\..\\pyproject.toml",
    "/static/....//....//pyproject.toml",
    "/static/index.html/../../app.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/../../../../../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%00/../pyproject.toml",
    "/..%2fpyproject.toml",
    "/%2e%2e/pyproject.toml",
    "/static/",
    "http://127.0.0.1/static/../../pyproject.toml",
]


def test_the_raw_client_reaches_a_real_static_file(closed):
    answer = exchange(closed[0], head("GET", "/static/style.css", closed[0]))
    assert answer.status == 200
    assert answer.body == (STATIC_DIR / "style.css").read_bytes()


@pytest.mark.parametrize("target", TRAVERSALS)
def test_static_files_cannot_be_escaped(closed, target):
    client = f"203.0.113.{TRAVERSALS.index(target) + 1}"  # one each: no rate limit in play
    answer = exchange(closed[0], head("GET", target, closed[0], {"X-Forwarded-For": client}),
                      timeout_s=30)
    assert answer.status == 404, (answer.status, answer.body[:200])
    assert not any(secret in answer.body for secret in SECRETS), answer.body[:200]
    assert answer.headers["content-type"] == "application/json"
    assert internal_details(answer.body.decode()) == [], answer.body
    assert httpx.get(f"{closed[0]}/healthz", timeout=10).status_code == 200


def test_a_symlink_out_of_the_static_folder_is_not_followed(tmp_path, monkeypatch):
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>page</title>")
    secret = tmp_path / "secret.txt"
    secret.write_text("S2I_TRITON_GRPC=do-not-show")
    (static / "leak.txt").symlink_to(secret)
    (static / "up").symlink_to(tmp_path, target_is_directory=True)
    monkeypatch.setattr(sketch2idol.gateway.app, "STATIC_DIR", static)
    app = sketch2idol.gateway.app.create_app(Settings(model_repository=tmp_path / "none"))

    async def fetch(paths):  # in process, no lifespan: the app's Triton link is never opened
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gateway") as http:
            return [await http.get(path) for path in paths]

    page, *escapes = asyncio.run(fetch(["/static/index.html", "/static/leak.txt",
                                        "/static/up/secret.txt"]))
    assert page.status_code == 200
    for response in escapes:
        assert response.status_code == 404 and b"do-not-show" not in response.content


# -- error bodies ----------------------------------------------------------------------------

def test_model_server_errors_do_not_reveal_its_address(strict):
    url, _, no_triton = strict
    port = no_triton.rsplit(":", 1)[1]
    drawing = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(drawing).ellipse((8, 4, 56, 60), outline=0, width=2)
    sketch = encode(drawing, "PNG")
    down = httpx.post(f"{url}/v1/faces", files={"sketch": ("s.png", sketch, "image/png")},
                      headers={"X-Forwarded-For": "198.51.100.50"}, timeout=30)
    ready = httpx.get(f"{url}/readyz", timeout=30)
    for response in (down, ready):
        assert response.status_code == 503, response.text
        assert internal_details(response.text, (no_triton, port)) == [], response.text


# -- Triton listens on loopback --------------------------------------------------------------

def test_the_demo_binds_triton_and_the_gateway_to_loopback(tmp_path):
    gateway_port, http_port, grpc_port, metrics_port = free_ports(4)
    (tmp_path / "repository").mkdir()
    args = build_parser().parse_args([
        "demo", "--model-repository", str(tmp_path / "repository"), "--port",
        str(gateway_port), "--http-port", str(http_port), "--grpc-port", str(grpc_port),
        "--metrics-port", str(metrics_port), "--build-dir", str(tmp_path / "build")])
    supervisor, _ = build_supervisor(args)
    command = supervisor.triton.command(locate_triton(), tmp_path / "backends")
    flags = dict(argument.split("=", 1) for argument in command[1:] if "=" in argument)
    for name in ("http", "grpc", "metrics"):
        assert flags[f"--{name}-address"] == "127.0.0.1", command
    gateway = supervisor.gateway.command
    assert gateway[gateway.index("--host") + 1] == "127.0.0.1"


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            address_hex, port_hex = fields[1].split(":")
            raw = bytes.fromhex(address_hex)
            words = [raw[i:i + 4][::-1] for i in range(0, len(raw), 4)]  # little-endian
            packed = b"".join(words)
            family = socket.AF_INET if width == 8 else socket.AF_INET6
            listening.add((socket.inet_ntop(family, packed), int(port_hex, 16)))
    return listening


def test_a_running_triton_listens_on_loopback_only(triton_server):
    listening = listening_addresses(triton_server.pid)
    ports = {port for _, port in listening}
    assert set(triton_server.ports.values()) <= ports, listening
    assert all(is_loopback(address) for address, _ in listening), listening


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # gRPC listens on ::ffff:127.0.0.1
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)
