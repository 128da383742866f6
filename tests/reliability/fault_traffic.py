"""Load for the fault tests: a few concurrent clients posting sketches to the gateway,
recording the outcome of every request they send, and the tally the tests assert on.

    with Traffic(url, payloads, clients=3) as traffic:
        traffic.wait_for(lambda done: ok_count(done) >= 5, timeout_s=60)
        ...inject a fault...
    counts = tally(traffic.outcomes, bound_s=5.0)

Every request ends as exactly one Outcome: an HTTP answer (status, JSON error code,
Retry-After, X-Model-Version, the projection version and neighbour rows of a JSON answer)
or a transport error (status 0, the exception's name). The clients stop when the block
exits and every request in flight is waited for, so `outcomes` holds every request sent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

#: Longer than any bound a test asserts, so that a hung request shows up as a slow one.
CLIENT_TIMEOUT_S = 60.0
FORM = {"t": "0.5", "include": "neighbors"}
JSON = {"Accept": "application/json"}
TRANSPORT_ERROR = 0


@dataclass(frozen=True)
class Outcome:
    client: int
    payload: int  # index of the sketch sent
    started: float  # time.monotonic()
    finished: float
    status: int  # HTTP status, TRANSPORT_ERROR (0) when no answer came
    error: str = ""  # the JSON error code of a refusal, or the transport error's name
    detail: str = ""
    retry_after: str | None = None
    model_header: str = ""  # X-Model-Version
    projection_version: str = ""  # the JSON body's model.projection_version
    neighbors: dict | None = None  # component -> bank rows, for a JSON 200
    neighbor_ids: dict | None = None  # component -> bank sample ids, for a JSON 200

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def clean_refusal(self) -> bool:
        """503 with a JSON reason and Retry-After: what a client can act on."""
        return (self.status == 503 and self.error == "model_unavailable"
                and len(self.detail) > 10 and (self.retry_after or "").isdigit()
                and int(self.retry_after) >= 1)


def outcome_of(response: httpx.Response, client: int, payload: int, started: float
               ) -> Outcome:
    finished = time.monotonic()
    common = dict(client=client, payload=payload, started=started, finished=finished,
                  status=response.status_code, retry_after=response.headers.get("retry-after"),
                  model_header=response.headers.get("x-model-version", ""))
    try:
        body = response.json()
    except ValueError:
        return Outcome(**common, error="not_json")
    if response.status_code != 200:
        return Outcome(**common, error=str(body.get("error", "")),
                       detail=str(body.get("detail", "")))
    return Outcome(**common, projection_version=body["model"].get("projection_version", ""),
                   neighbors=body.get("neighbors"), neighbor_ids=body.get("neighbor_ids"))


async def post_sketch(client: httpx.AsyncClient, url: str, png: bytes, number: int,
                      payload: int) -> Outcome:
    started = time.monotonic()
    try:
        response = await client.post(f"{url}/v1/faces", files={
            "sketch": ("sketch.png", png, "image/png")}, data=FORM, headers=JSON)
    except httpx.HTTPError as error:
        return Outcome(client=number, payload=payload, started=started,
                       finished=time.monotonic(), status=TRANSPORT_ERROR,
                       error=type(error).__name__, detail=str(error)[:200])
    return outcome_of(response, number, payload, started)


class Traffic:
    """`clients` closed-loop clients in a background thread, each with its own connection,
    cycling through `payloads` (PNG bytes) until the `with` block ends."""

    def __init__(self, url: str, payloads: Sequence[bytes], clients: int = 3):
        self.url = url
        self.payloads = list(payloads)
        self.clients = clients
        self._outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    @property
    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return sorted(self._outcomes, key=lambda outcome: outcome.started)

    async def _client(self, number: int) -> None:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT_S, trust_env=False) as client:
            sent = 0
            while not self._stop.is_set():
                payload = (number + sent * self.clients) % len(self.payloads)
                outcome = await post_sketch(client, self.url, self.payloads[payload], number,
                                            payload)
                with self._lock:
                    self._outcomes.append(outcome)
                sent += 1
                if outcome.status != 200:
                    await asyncio.sleep(0.05)  # a refused client retries, but not in a spin

    async def _run(self) -> None:
        await asyncio.gather(*(self._client(number) for number in range(self.clients)))

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(CLIENT_TIMEOUT_S + 10)
        assert not self._thread.is_alive(), "a client never finished its last request"

    def wait_for(self, condition: Callable[[list[Outcome]], bool], timeout_s: float,
                 what: str) -> float:
        """Wait until `condition(outcomes)` holds; returns when (monotonic)."""
        deadline = time.monotonic() + timeout_s
        while not condition(self.outcomes):
            assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting " \
                                                f"for {what}; {describe(self.outcomes)}"
            time.sleep(0.05)
        return time.monotonic()


def describe(outcomes: list[Outcome]) -> str:
    """Counts by status and error, for assertion messages."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        key = f"{outcome.status} {outcome.error}".strip()
        counts[key] = counts.get(key, 0) + 1
    return f"outcomes so far: {counts}"


@dataclass(frozen=True)
class Tally:
    sent: int
    succeeded: int
    rejected_cleanly: int
    lost: int  # transport errors, unclean errors, or slower than the bound
    slowest_s: float

    def as_dict(self) -> dict:
        return {"sent": self.sent, "succeeded": self.succeeded,
                "rejected_cleanly": self.rejected_cleanly, "lost": self.lost,
                "slowest_s": round(self.slowest_s, 2)}


def tally(outcomes: list[Outcome], bound_s: float) -> Tally:
    """Every request is exactly one of: succeeded, cleanly rejected, lost. A request slower
    than `bound_s` counts as lost (hung), whatever it ended with."""
    in_time = [o for o in outcomes if o.seconds <= bound_s]
    succeeded = sum(o.ok for o in in_time)
    rejected = sum(o.clean_refusal for o in in_time)
    return Tally(sent=len(outcomes), succeeded=succeeded, rejected_cleanly=rejected,
                 lost=len(outcomes) - succeeded - rejected,
                 slowest_s=max((o.seconds for o in outcomes), default=0.0))


def ok_count(outcomes: list[Outcome], after: float = 0.0) -> int:
    """200s among the requests that started at or after `after`."""
    return sum(o.ok and o.started >= after for o in outcomes)
