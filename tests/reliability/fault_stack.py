"""A real tritonserver and a real gateway per fault test (each test breaks its own), the
sketches they are sent, and the one place the measured figures are printed.

Figures: every fault test prints one `fault figures <name>: {json}` line, so
`.venv/bin/python -m pytest -q -s tests/reliability -k fault | grep 'fault figures'`
regenerates the table in RELIABILITY.md.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from gateway_process import start_gateway

from sketch2idol.launch.supervisor import GatewayProcess
from sketch2idol.launch.tritonserver import TritonServer, free_ports


def copy_repository(repository: Path, destination: Path) -> Path:
    """A private copy of an exported repository (the test may corrupt or grow it)."""
    return Path(shutil.copytree(repository, destination,
                                ignore=shutil.ignore_patterns("__pycache__")))


def triton_for(repository: Path, work_dir: Path, **options) -> TritonServer:
    """A TritonServer on free loopback ports (not started)."""
    http_port, grpc_port, metrics_port = free_ports(3)
    return TritonServer(repository, http_port=http_port, grpc_port=grpc_port,
                        metrics_port=metrics_port, work_dir=work_dir, **options)


@contextmanager
def triton_and_gateway(repository: Path, tmp_path: Path, gateway_env: dict | None = None,
                       start: dict | None = None, **triton_options
                       ) -> Iterator[tuple[TritonServer, GatewayProcess, str]]:
    """Start Triton (TritonServer options; `start`: its start() arguments), then a gateway
    in front of it; stop both afterwards, whatever the test did to them."""
    triton = triton_for(repository, tmp_path / "triton", **triton_options)
    gateway = None
    try:
        triton.start(**(start or {}))
        gateway, url = start_gateway(triton.grpc_address, repository,
                                     tmp_path / "gateway.log",
                                     env={**FAULT_GATEWAY_ENV, **(gateway_env or {})})
        yield triton, gateway, url
    finally:
        if gateway is not None:
            gateway.stop()
        triton.stop()


#: The fault tests' clients all come from 127.0.0.1 and retry refusals at once: the
#: per-client rate limit (tested with the security limits) would refuse them.
FAULT_GATEWAY_ENV = {"S2I_RATE_LIMIT_PER_S": "0"}


def warm_up(url: str, png: bytes, timeout_s: float = 60.0) -> None:
    """Post until one face comes back (the first inference of a fresh Triton is slow)."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.post(f"{url}/v1/faces", files={"sketch": ("s.png", png, "image/png")},
                              timeout=timeout_s, trust_env=False)
        if response.status_code == 200:
            return
        assert time.monotonic() < deadline, f"no face within {timeout_s:g} s: {response.text}"
        time.sleep(0.2)


def readyz(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=10, trust_env=False)


def wait_for_readyz(url: str, status: int, timeout_s: float) -> float:
    """Wait until the gateway's /readyz answers `status`; returns when (monotonic)."""
    deadline = time.monotonic() + timeout_s
    while (answered := readyz(url)).status_code != status:
        assert time.monotonic() < deadline, \
            f"/readyz still {answered.status_code} after {timeout_s:g} s"
        time.sleep(0.1)
    return time.monotonic()


def assert_no_traceback(*logs: Path) -> None:
    for log in logs:
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, f"{log} holds a traceback:\n{text[-3000:]}"


def report_figures(name: str, figures: dict) -> None:
    print(f"\nfault figures {name}: {json.dumps(figures, sort_keys=True)}")


def seconds(value: float) -> float:
    return round(value, 2)


def all_ok(outcomes: Sequence) -> bool:
    return all(outcome.ok for outcome in outcomes)
