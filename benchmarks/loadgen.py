"""A small async HTTP load generator for `POST /v1/faces` (the gateway and the baseline).

    .venv/bin/python -m benchmarks.loadgen http://127.0.0.1:8080 --concurrency 4 --duration 10
    .venv/bin/python -m benchmarks.loadgen http://127.0.0.1:8080 --rate 5 --duration 10

Closed loop: `concurrency` workers, each sending its next request as soon as the last one
answered. Open loop: requests start at a fixed rate whatever the answers do, and latency
is counted from the scheduled start (no coordinated omission). Both upload real held-out
sketches (PNG, multipart, t = 0.5; with --look, the form field `look` too: a named look or
`random`, else the server's default look), cycling through them, and record every request's
start, latency and HTTP status; only requests started after the warm-up and finished
inside the window count.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time
from dataclasses import dataclass

import httpx
import numpy as np
from PIL import Image

from benchmarks.common import percentiles

ROUTE = "/v1/faces"
TIMEOUT_S = 120.0
MAX_OUTSTANDING = 512  # open loop: more than this in flight counts as dropped


@dataclass(frozen=True)
class Sample:
    started: float  # seconds since the load began
    latency: float  # seconds
    status: int  # HTTP status; 0 = transport error, -1 = dropped by the generator


def png_payloads(sketches: np.ndarray) -> list[bytes]:
    payloads = []
    for sketch in sketches:
        buffer = io.BytesIO()
        Image.fromarray(sketch).save(buffer, format="PNG")
        payloads.append(buffer.getvalue())
    return payloads


def form(t: float, look: str | None = None) -> dict[str, str]:
    """The request's form fields besides the sketch."""
    return {"t": str(t), **({"look": look} if look else {})}


async def _send(client: httpx.AsyncClient, url: str, payload: bytes, t: float,
                look: str | None = None) -> int:
    try:
        response = await client.post(url, files={"sketch": ("sketch.png", payload, "image/png")},
                                     data=form(t, look))
        await response.aread()
        return response.status_code
    except httpx.HTTPError:
        return 0


async def closed_loop(base_url: str, payloads: list[bytes], concurrency: int,
                      duration_s: float, warmup_s: float, t: float = 0.5,
                      look: str | None = None) -> list[Sample]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    samples: list[Sample] = []
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as client:
        origin = time.perf_counter()
        stop_at = origin + warmup_s + duration_s

        async def worker(offset: int) -> None:
            index = offset
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                status = await _send(client, base_url + ROUTE, payloads[index % len(payloads)],
                                     t, look)
                samples.append(Sample(started - origin, time.perf_counter() - started, status))
                index += concurrency

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return samples


async def open_loop(base_url: str, payloads: list[bytes], rate: float, duration_s: float,
                    warmup_s: float, t: float = 0.5, look: str | None = None) -> list[Sample]:
    limits = httpx.Limits(max_connections=MAX_OUTSTANDING,
                          max_keepalive_connections=MAX_OUTSTANDING)
    samples: list[Sample] = []
    tasks = set()
    async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as client:
        origin = time.perf_counter()
        total = int(rate * (warmup_s + duration_s))

        async def one(index: int, scheduled: float) -> None:
            status = await _send(client, base_url + ROUTE, payloads[index % len(payloads)], t,
                                 look)
            samples.append(Sample(scheduled - origin, time.perf_counter() - scheduled, status))

        for index in range(total):
            scheduled = origin + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) >= MAX_OUTSTANDING:
                samples.append(Sample(scheduled - origin, 0.0, -1))
                continue
            task = asyncio.create_task(one(index, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    return samples


def summarize(samples: list[Sample], duration_s: float, warmup_s: float,
              open_loop: bool = False) -> dict:
    """Throughput: successful answers that arrived inside the window, per second. Latency
    percentiles (ms): closed loop, the successful answers that arrived inside the window;
    open loop, every successful request scheduled inside the window, however late it
    finished (an overloaded server's tail stays in)."""
    end = warmup_s + duration_s
    arrived = [s for s in samples if s.status == 200 and warmup_s <= s.started + s.latency <= end]
    scheduled = [s for s in samples if warmup_s <= s.started < end]
    timed = [s for s in scheduled if s.status == 200] if open_loop else arrived
    return {
        "ok": len(arrived), "errors": sum(s.status not in (200, -1) for s in scheduled),
        "dropped": sum(s.status == -1 for s in scheduled),
        "throughput": round(len(arrived) / duration_s, 2),
        "mean_ms": round(1e3 * float(np.mean([s.latency for s in timed])), 2) if timed else None,
        **percentiles([1e3 * s.latency for s in timed]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="base URL, e.g. http://127.0.0.1:8080")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--concurrency", type=int, default=1)
    mode.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--sketches", type=int, default=8)
    parser.add_argument("--look", help="a named look or `random` (default: the server's)")
    args = parser.parse_args()
    from benchmarks.common import heldout

    payloads = png_payloads(heldout(args.sketches)[0])
    if args.rate:
        samples = asyncio.run(open_loop(args.url, payloads, args.rate, args.duration,
                                        args.warmup, look=args.look))
    else:
        samples = asyncio.run(closed_loop(args.url, payloads, args.concurrency, args.duration,
                                          args.warmup, look=args.look))
    print(summarize(samples, args.duration, args.warmup, open_loop=bool(args.rate)))


if __name__ == "__main__":
    main()
