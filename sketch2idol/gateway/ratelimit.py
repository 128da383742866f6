"""Per-client limits: a request rate (token bucket) and /v1 requests in flight, by address.

    buckets = TokenBuckets(rate_per_s=10, burst=20)
    wait_s = buckets.take("203.0.113.7")     # 0.0: go ahead; else seconds until a token

`ClientLimitsMiddleware` applies both before the app sees a request and answers 429 with
`Retry-After` and `{"error": "rate_limited" | "client_busy", "detail": ...}`. The global
`sketch2idol.gateway.limits.ConcurrencyLimit` still applies on top. The key is the client address as
uvicorn gives it (the peer, or X-Forwarded-For from a trusted proxy); IPv6 addresses are
grouped by /64, since one host usually owns a whole /64. Memory stays bounded: when more
than `max_clients` addresses are tracked, the buckets that have refilled are dropped (a
full bucket is the same as no bucket), then the least recently used.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from sketch2idol.gateway.errors import ApiError, refuse_unread

MAX_CLIENTS = 100_000
UNKNOWN_CLIENT = "unknown"


def client_key(client: tuple[str, int] | None) -> str:
    """The limiting key of an ASGI `scope["client"]`: the IPv4 address, or the IPv6 /64."""
    if not client or not client[0]:
        return UNKNOWN_CLIENT
    host = client[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class TokenBuckets:
    """One token bucket per key: `burst` tokens at most, refilled at `rate_per_s`."""

    def __init__(self, rate_per_s: float, burst: int, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"need rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take one token: 0.0 when there was one, else the seconds until there will be."""
        now = self.clock()
        tokens, then = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate_per_s)
        wait_s = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait_s = (1.0 - tokens) / self.rate_per_s
        self._buckets[key] = (tokens, now)  # most recently used last
        if len(self._buckets) > self.max_clients:
            self._forget(now)
        return wait_s

    def _forget(self, now: float) -> None:
        refill_s = self.burst / self.rate_per_s
        for key in [key for key, (_, then) in self._buckets.items() if now - then >= refill_s]:
            del self._buckets[key]
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)


class ClientLimitsMiddleware:
    """ASGI middleware: per-client rate (every route but `exempt`) and per-client requests
    in flight (routes under `in_flight_prefix`). `on_reject(error, key)` is told of each
    refusal (metrics, log)."""

    def __init__(self, app, buckets: TokenBuckets | None, max_in_flight: int,
                 exempt: frozenset[str] = frozenset(), in_flight_prefix: str = "/v1/",
                 on_reject: Callable[[ApiError, str], None] | None = None):
        self.app = app
        self.buckets = buckets
        self.max_in_flight = max_in_flight
        self.exempt = exempt
        self.in_flight_prefix = in_flight_prefix
        self.on_reject = on_reject or (lambda error, key: None)
        self.in_flight: dict[str, int] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        key = client_key(scope.get("client"))
        error = self._refusal(key, scope["path"])
        if error is not None:
            self.on_reject(error, key)
            await refuse_unread(receive, send, error)
            return
        if not (self.max_in_flight and scope["path"].startswith(self.in_flight_prefix)):
            await self.app(scope, receive, send)
            return
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.in_flight.pop(key) - 1
            if left:
                self.in_flight[key] = left

    def _refusal(self, key: str, path: str) -> ApiError | None:
        if self.buckets is not None:
            wait_s = self.buckets.take(key)
            if wait_s > 0:
                retry_s = max(1, math.ceil(wait_s))
                return ApiError(429, "rate_limited", f"too many requests from your address: "
                                f"the limit is {self.buckets.rate_per_s:g} per second in "
                                f"bursts of up to {self.buckets.burst}; try again in "
                                f"{retry_s} s", {"Retry-After": str(retry_s)})
        if (self.max_in_flight and path.startswith(self.in_flight_prefix)
                and self.in_flight.get(key, 0) >= self.max_in_flight):
            return ApiError(429, "client_busy", f"your address has {self.max_in_flight} "
                            "requests in progress already; wait for one to finish",
                            {"Retry-After": "1"})
        return None
