"""Starting a real gateway process (`sketch2idol gateway`) for tests, with the demo
supervisor's own GatewayProcess, and stopping any other child process.

Importable from any test: tests/conftest.py puts this directory on sys.path.
"""

from __future__ import annotations

import os
import subprocess
import sys

from sketch2idol.launch.supervisor import GatewayProcess
from sketch2idol.launch.tritonserver import free_port

START_TIMEOUT_S = 60.0


def start_gateway(triton_grpc: str, repository, log_path, port: int | None = None,
                  env: dict | None = None) -> tuple[GatewayProcess, str]:
    """A healthy gateway on 127.0.0.1:`port` (a free one by default) and its URL."""
    url = f"http://127.0.0.1:{port or free_port()}"
    command = [sys.executable, "-m", "sketch2idol", "gateway", "--port", url.rsplit(":", 1)[1],
               "--triton-grpc", triton_grpc, "--model-repository", str(repository)]
    gateway = GatewayProcess(command, log_path, f"{url}/healthz",
                             env={**os.environ, **(env or {})})
    gateway.start()
    gateway.wait_until_healthy(START_TIMEOUT_S)
    return gateway, url


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
