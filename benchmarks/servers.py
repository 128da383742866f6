"""Start and stop what the serving benchmarks load: the baseline, Triton, the gateway.

Each is a context manager that waits until the server answers and leaves no process
behind. Logs go under build/bench/.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.common import ROOT
from sketch2idol.serving.tritonserver import TritonServer, free_port, free_ports

WORK = ROOT / "build" / "bench"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_ok(url: str, process: subprocess.Popen, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
        try:
            with _DIRECT.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer 200 within {timeout_s} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def baseline_server():
    """The seed-style baseline (benchmarks/baseline_server.py) under uvicorn; yields its URL."""
    WORK.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(WORK / "baseline.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "benchmarks.baseline_server:app", "--host",
             "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ok(f"{url}/healthz", process)
            yield url
        finally:
            stop(process)


@contextlib.contextmanager
def triton_server(repository: Path, name: str):
    """tritonserver on free ports serving `repository`; yields the TritonServer."""
    ports = free_ports(3)
    work = WORK / f"triton-{name}"
    with TritonServer(Path(repository), http_port=ports[0], grpc_port=ports[1],
                      metrics_port=ports[2], work_dir=work) as server:
        yield server


@contextlib.contextmanager
def gateway(server: TritonServer, repository: Path, max_concurrency: int = 64):
    """`sketch2idol gateway` in front of `server`; yields its URL. S2I_MAX_CONCURRENCY is
    raised (default 8) so that the sweep measures queueing, not 429s."""
    port = free_port()
    env = {**os.environ, "S2I_MAX_CONCURRENCY": str(max_concurrency)}
    with open(WORK / "gateway.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sketch2idol", "gateway", "--port", str(port),
             "--triton-grpc", server.grpc_address, "--model-repository", str(repository)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ok(f"{url}/readyz", process)
            yield url
        finally:
            stop(process)
