"""Starting and stopping a real gateway process (`sketch2idol gateway`) for tests.

Importable from any test: tests/conftest.py puts this directory on sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

from sketch2idol.serving.tritonserver import free_port


def wait_for(url: str, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def start_gateway(triton_grpc: str, repository, log_path, port: int | None = None,
                  env: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = port or free_port()
    log = open(log_path, "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "sketch2idol", "gateway", "--port", str(port),
         "--triton-grpc", triton_grpc, "--model-repository", str(repository)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/healthz", process)
    return process, url


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
