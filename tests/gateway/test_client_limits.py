"""The per-client limits (sketch2idol/gateway/ratelimit.py) and the request deadline
(sketch2idol/gateway/deadline.py)
as plain ASGI middlewares around stand-in apps: no server, a fake clock where time matters."""

from __future__ import annotations

import asyncio
import json

import pytest

from sketch2idol.gateway.deadline import DeadlineMiddleware
from sketch2idol.gateway.ratelimit import ClientLimitsMiddleware, TokenBuckets, client_key


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def http_scope(path: str = "/v1/faces", client=("203.0.113.5", 50000),
               headers: dict[bytes, bytes] | None = None) -> dict:
    return {"type": "http", "method": "POST", "path": path, "client": client,
            "headers": list((headers if headers is not None
                             else {b"content-length": b"10"}).items())}


def run(middleware, scope, messages=(), gap_s: float = 0.0) -> list[dict]:
    """Call an ASGI app with the request `messages` (`gap_s` apart, then nothing more: a
    stalled client) and return what it sent."""
    sent: list[dict] = []
    pending = list(messages)

    async def receive():
        if pending:
            await asyncio.sleep(gap_s)
            return pending.pop(0)
        await asyncio.sleep(3600)  # the client sends nothing more

    async def send(message):
        sent.append(message)

    asyncio.run(middleware(scope, receive, send))
    return sent


def status_and_body(sent: list[dict]) -> tuple[int, dict, dict]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    is_json = headers.get("content-type") == "application/json"
    return start["status"], (json.loads(body) if is_json else {}), headers


async def ok_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def reading_app(then_wait_s: float = 0.0):
    """Reads the whole body, then works for `then_wait_s` seconds, then answers 200."""
    async def app(scope, receive, send):
        while True:
            message = await receive()
            if not message.get("more_body"):
                break
        await asyncio.sleep(then_wait_s)
        await ok_app(scope, receive, send)
    return app


BODY = [{"type": "http.request", "body": b"01234", "more_body": True},
        {"type": "http.request", "body": b"56789", "more_body": False}]


# -- token buckets ---------------------------------------------------------------------------

def test_a_bucket_allows_its_burst_then_says_how_long_to_wait():
    clock = Clock()
    buckets = TokenBuckets(rate_per_s=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token takes 1/rate seconds
    clock.now += 0.25
    assert buckets.take("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert buckets.take("a") == 0.0
    assert buckets.take("b") == 0.0  # another client has its own bucket
    clock.now += 100
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refilled to the burst, no more


def test_buckets_forget_refilled_clients_first_and_stay_bounded():
    clock = Clock()
    buckets = TokenBuckets(rate_per_s=1.0, burst=2, max_clients=3, clock=clock)
    buckets.take("busy")
    buckets.take("busy")
    clock.now += 10  # every bucket so far has refilled
    for key in ("x", "y", "z"):
        buckets.take(key)
    assert len(buckets) == 3
    buckets.take("busy")
    buckets.take("busy")
    assert buckets.take("busy") > 0, "a client's empty bucket must survive the clean-up"
    for key in range(50):
        buckets.take(str(key))
    assert len(buckets) <= 3


@pytest.mark.parametrize("client, key", [
    (("203.0.113.5", 1), "203.0.113.5"),
    (("2001:db8:1:2:aaaa::1", 1), "2001:db8:1:2::/64"),
    (("2001:db8:1:2:bbbb::9", 1), "2001:db8:1:2::/64"),
    (("2001:db8:1:3::1", 1), "2001:db8:1:3::/64"),
    (("::ffff:198.51.100.7", 1), "198.51.100.7"),
    (None, "unknown"),
])
def test_clients_are_keyed_by_address_and_ipv6_by_64(client, key):
    assert client_key(client) == key


# -- the middleware --------------------------------------------------------------------------

def test_over_the_rate_is_429_with_retry_after_and_probes_are_exempt():
    clock = Clock()
    refused = []
    limits = ClientLimitsMiddleware(ok_app, TokenBuckets(0.5, 2, clock=clock), 0,
                                    exempt=frozenset({"/healthz"}),
                                    on_reject=lambda error, key: refused.append((error.code,
                                                                                 key)))
    assert [status_and_body(run(limits, http_scope()))[0] for _ in range(2)] == [200, 200]
    status, body, headers = status_and_body(run(limits, http_scope()))
    assert status == 429 and body["error"] == "rate_limited"
    assert "0.5 per second" in body["detail"] and headers["retry-after"] == "2"
    assert headers["content-type"] == "application/json"
    assert refused == [("rate_limited", "203.0.113.5")]
    assert status_and_body(run(limits, http_scope("/healthz")))[0] == 200
    assert status_and_body(run(limits, http_scope(client=("203.0.113.6", 1))))[0] == 200


def test_a_client_gets_its_requests_in_flight_and_no_more():
    gate = {}

    async def held_app(scope, receive, send):
        await gate["open"].wait()
        await ok_app(scope, receive, send)

    limits = ClientLimitsMiddleware(held_app, None, max_in_flight=2)

    async def scenario():
        gate["open"] = asyncio.Event()
        sent = [[] for _ in range(5)]

        def call(index, client, path="/v1/faces"):
            async def send(message):
                sent[index].append(message)

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}
            return asyncio.create_task(limits(http_scope(path, client), receive, send))

        a = ("198.51.100.1", 1)
        held = [call(0, a), call(1, a)]
        await asyncio.sleep(0.01)
        await call(2, a)  # a third from the same client: refused at once
        other = call(3, ("198.51.100.2", 1))  # another client: let in
        page = call(4, a, "/static/app.js")  # outside /v1: not counted
        await asyncio.sleep(0.01)
        gate["open"].set()
        await asyncio.gather(*held, other, page)
        return sent

    sent = asyncio.run(scenario())
    statuses = [status_and_body(messages)[0] for messages in sent]
    assert statuses == [200, 200, 429, 200, 200]
    assert status_and_body(sent[2])[1]["error"] == "client_busy"
    assert limits.in_flight == {}  # every slot given back


def test_a_slot_is_given_back_when_the_app_fails():
    async def failing_app(scope, receive, send):
        raise RuntimeError("boom")

    limits = ClientLimitsMiddleware(failing_app, None, max_in_flight=1)
    with pytest.raises(RuntimeError):
        run(limits, http_scope())
    assert limits.in_flight == {}


# -- the deadline ----------------------------------------------------------------------------

def test_a_stalled_body_is_408_at_the_deadline():
    timeouts = []
    deadline = DeadlineMiddleware(reading_app(), 0.2, on_timeout=timeouts.append)
    status, body, headers = status_and_body(run(deadline, http_scope(), BODY[:1]))
    assert status == 408 and body["error"] == "request_timeout"
    assert "0.2 s" in body["detail"] and headers["connection"] == "close"
    assert [error.code for error in timeouts] == ["request_timeout"]


def test_a_slow_trickle_that_ends_in_time_is_served():
    deadline = DeadlineMiddleware(reading_app(), 2.0)
    assert status_and_body(run(deadline, http_scope(), BODY, gap_s=0.2))[0] == 200


def test_slow_processing_after_the_body_is_504():
    deadline = DeadlineMiddleware(reading_app(then_wait_s=5), 0.2)
    status, body, _ = status_and_body(run(deadline, http_scope(), BODY))
    assert status == 504 and body["error"] == "deadline_exceeded"


def test_a_request_without_a_body_that_takes_too_long_is_504():
    async def slow_get(scope, receive, send):
        await asyncio.sleep(5)

    deadline = DeadlineMiddleware(slow_get, 0.2)
    status, _, _ = status_and_body(run(deadline, http_scope(headers={})))
    assert status == 504


def test_the_apps_own_timeout_error_is_not_taken_for_the_deadline():
    async def app(scope, receive, send):
        raise TimeoutError("the app's own")

    with pytest.raises(TimeoutError, match="the app's own"):
        run(DeadlineMiddleware(app, 5.0), http_scope())


def test_a_response_already_under_way_is_not_answered_twice():
    async def half_answer(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(5)

    sent = run(DeadlineMiddleware(half_answer, 0.2), http_scope(headers={}))
    assert [m["type"] for m in sent] == ["http.response.start"]
