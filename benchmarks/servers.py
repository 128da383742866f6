"""Start and stop what the serving benchmarks load: the baseline, Triton, the gateway.

Each is a context manager that waits until the server answers and leaves no process
behind (the demo supervisor's GatewayProcess: its own process group, SIGTERM then SIGKILL).
Logs go under build/bench/.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from benchmarks.common import ROOT
from sketch2idol.launch.supervisor import GatewayProcess
from sketch2idol.launch.tritonserver import TritonServer, free_port, free_ports

WORK = ROOT / "build" / "bench"
START_TIMEOUT_S = 180.0


@contextlib.contextmanager
def http_process(command: Sequence[str], log_file: Path, health_url: str,
                 env: dict[str, str] | None = None) -> Iterator[GatewayProcess]:
    """`command` running until the block ends, once `health_url` answers 200."""
    process = GatewayProcess(command, log_file, health_url, env=env, cwd=ROOT)
    process.start()
    try:
        process.wait_until_healthy(START_TIMEOUT_S)
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def baseline_server() -> Iterator[str]:
    """The seed-style baseline (benchmarks/baseline_server.py) under uvicorn; yields its URL."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "uvicorn", "benchmarks.baseline_server:app", "--host",
               "127.0.0.1", "--port", url.rsplit(":", 1)[1], "--workers", "1",
               "--no-access-log"]
    with http_process(command, WORK / "baseline.log", f"{url}/healthz"):
        yield url


@contextlib.contextmanager
def triton_server(repository: Path, name: str) -> Iterator[TritonServer]:
    """tritonserver on free ports serving `repository`; yields the TritonServer."""
    ports = free_ports(3)
    work = WORK / f"triton-{name}"
    with TritonServer(Path(repository), http_port=ports[0], grpc_port=ports[1],
                      metrics_port=ports[2], work_dir=work) as server:
        yield server


@contextlib.contextmanager
def gateway(server: TritonServer, repository: Path, max_concurrency: int = 64) -> Iterator[str]:
    """`sketch2idol gateway` in front of `server`; yields its URL once /readyz answers.
    S2I_MAX_CONCURRENCY is raised (default 8) and the per-client limits are off, so that the
    sweep measures queueing, not 429s."""
    with gateway_process(server, repository, max_concurrency) as (_, url):
        yield url


@contextlib.contextmanager
def gateway_process(server: TritonServer, repository: Path, max_concurrency: int = 64,
                    log_name: str = "gateway.log", env: dict[str, str] | None = None
                    ) -> Iterator[tuple[GatewayProcess, str]]:
    """As `gateway`, yielding the process too (its pid: benchmarks/soak.py samples its
    memory); `env` adds or overrides S2I_* settings."""
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "sketch2idol", "gateway", "--port", url.rsplit(":", 1)[1],
               "--triton-grpc", server.grpc_address, "--model-repository", str(repository)]
    # One load generator is one client address: the per-client limits (0 = off) would
    # measure themselves, not the pipeline.
    env = {**os.environ, "S2I_MAX_CONCURRENCY": str(max_concurrency),
           "S2I_MAX_CLIENT_CONCURRENCY": "0", "S2I_RATE_LIMIT_PER_S": "0", **(env or {})}
    with http_process(command, WORK / log_name, f"{url}/readyz", env=env) as process:
        yield process, url
