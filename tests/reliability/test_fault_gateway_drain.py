"""Faults: SIGTERM to the gateway drains the requests in flight before it exits.

Slow requests are made by freezing Triton (SIGSTOP) while they are in flight: the gateway
gets SIGTERM with all of them waiting on Triton. It must stop accepting connections at
once, keep running until Triton (thawed) has answered every one of them (all 200), then
exit 0 by itself: what a Kubernetes rollout or `make demo`'s Ctrl-C needs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import httpx
from fault_stack import (
    assert_no_traceback,
    report_figures,
    seconds,
    triton_and_gateway,
    warm_up,
)
from fault_traffic import post_sketch

from benchmarks.loadgen import png_payloads
from sketch2idol.export.samples import HELDOUT_SEED, render_sketches

IN_FLIGHT = 4
FROZEN_S = 2.0  # how long Triton keeps them waiting after the SIGTERM
EXIT_WITHIN_S = 30.0
GATEWAY_ENV = {"S2I_TRITON_DEADLINE_S": "30", "S2I_MAX_CLIENT_CONCURRENCY": "0"}


def uploads_in_flight(url: str) -> float:
    """The gateway's in-flight gauge, less the /metrics request that reads it."""
    text = httpx.get(f"{url}/metrics", timeout=5, trust_env=False).text
    line = next(line for line in text.splitlines()
                if line.startswith("sketch2idol_gateway_in_flight_requests"))
    return float(line.rsplit(" ", 1)[1]) - 1


def connection_refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=2, trust_env=False)
    except httpx.ConnectError:
        return True
    return False


def send_in_background(url: str, pngs: list[bytes]) -> tuple[list, list[threading.Thread]]:
    """One thread (own connection) per sketch; outcomes land in the returned list."""
    outcomes: list = []

    async def one(number: int, png: bytes):
        async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
            outcomes.append(await post_sketch(client, url, png, number, number))

    threads = [threading.Thread(target=lambda n=n, p=p: asyncio.run(one(n, p)))
               for n, p in enumerate(pngs)]
    for thread in threads:
        thread.start()
    return outcomes, threads


def test_sigterm_drains_in_flight_requests_then_exits_0(exported_repository, tmp_path):
    repository, _ = exported_repository
    pngs = png_payloads(render_sketches(HELDOUT_SEED, IN_FLIGHT, 256))
    with triton_and_gateway(repository, tmp_path, gateway_env=GATEWAY_ENV) as (
            triton, gateway, url):
        warm_up(url, pngs[0])
        os.killpg(triton.pid, signal.SIGSTOP)
        try:
            outcomes, threads = send_in_background(url, pngs)
            deadline = time.monotonic() + 30
            while uploads_in_flight(url) < IN_FLIGHT:  # all of them inside the gateway, waiting
                assert time.monotonic() < deadline, "the requests never reached the gateway"
                time.sleep(0.05)
            terminated_at = time.monotonic()
            os.kill(gateway.pid, signal.SIGTERM)
            refused_after = 0.0
            while not connection_refused(url):
                refused_after = time.monotonic() - terminated_at
                assert refused_after < 5, "new connections still accepted after SIGTERM"
                time.sleep(0.05)
            time.sleep(FROZEN_S)
            assert gateway.alive(), "the gateway exited with requests in flight"
            assert not outcomes, f"answered while Triton was frozen: {outcomes}"
            assert connection_refused(url)
        finally:
            os.killpg(triton.pid, signal.SIGCONT)
        for thread in threads:
            thread.join(60)
        code = gateway.wait(EXIT_WITHIN_S)
        exited_at = time.monotonic()
    assert [o.status for o in outcomes] == [200] * IN_FLIGHT, outcomes
    assert code == 0, f"the gateway exited with {code} after draining"
    assert_no_traceback(tmp_path / "gateway.log")
    report_figures("gateway_sigterm_drain", {
        "in_flight_at_sigterm": IN_FLIGHT, "completed_200": len(outcomes),
        "exit_code": code, "new_connection_refused_after_s": seconds(refused_after),
        "sigterm_to_exit_s": seconds(exited_at - terminated_at),
        "slowest_request_s": seconds(max(o.seconds for o in outcomes))})
