"""The real Debian `prometheus` scrapes the real gateway and the real tritonserver.

Prometheus runs from a temporary directory (config, TSDB, log) on a free loopback port with
a 1 s scrape interval; a few faces go through the gateway; then the HTTP query API must
return the gateway's request histogram (and a positive request rate) and Triton's
`nv_inference_request_success` for the ensemble.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from gateway_process import stop
from PIL import Image

from sketch2idol.core.data.synth import render_sample
from sketch2idol.launch.tritonserver import free_port

INSTALL_WAIT_S = 300  # `make system-deps` may still be installing it
SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gateway
    metrics_path: {gateway_path}
    static_configs:
      - targets: ["{gateway_target}"]
  - job_name: triton
    metrics_path: {triton_path}
    static_configs:
      - targets: ["{triton_target}"]
"""


def prometheus_binary() -> str:
    """Path of `prometheus`, waiting a while for an install in progress."""
    deadline = time.monotonic() + INSTALL_WAIT_S
    while (found := shutil.which("prometheus")) is None:
        if time.monotonic() > deadline:
            pytest.fail("no `prometheus` binary: run `make system-deps`")
        time.sleep(5)
    return found


def scrape_config(gateway_url: str, triton_metrics_url: str) -> str:
    gateway, triton = urlsplit(gateway_url), urlsplit(triton_metrics_url)
    return SCRAPE_CONFIG.format(gateway_path="/metrics", gateway_target=gateway.netloc,
                                triton_path=triton.path or "/metrics",
                                triton_target=triton.netloc)


@pytest.fixture
def prometheus(gateway_url, triton_server, tmp_path):
    """A running prometheus scraping both; yields its base URL."""
    config = tmp_path / "prometheus.yml"
    config.write_text(scrape_config(gateway_url, triton_server.metrics_url))
    address = f"127.0.0.1:{free_port()}"
    with open(tmp_path / "prometheus.log", "wb") as log:
        process = subprocess.Popen(
            [prometheus_binary(), f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address={address}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://{address}"
    try:
        wait_until(lambda: get(f"{url}/-/ready") == 200, 60,
                   lambda: f"prometheus not ready:\n{tail(tmp_path / 'prometheus.log')}")
        yield url
    finally:
        stop(process)


def tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def get(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return None


def wait_until(condition, timeout_s: float, explain) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, explain()
        time.sleep(0.5)


def targets_up(prometheus_url: str) -> dict[str, str]:
    """Scrape job -> health of its target."""
    active = httpx.get(f"{prometheus_url}/api/v1/targets", timeout=5).json()["data"]
    return {target["labels"]["job"]: target["health"] for target in active["activeTargets"]}


def query(prometheus_url: str, promql: str) -> list[dict]:
    body = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": promql},
                     timeout=5).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_scrapes_the_gateway_and_triton(prometheus, gateway_url, tmp_path):
    wait_until(lambda: targets_up(prometheus) == {"gateway": "up", "triton": "up"}, 60,
               lambda: f"targets: {targets_up(prometheus)}")
    sketch = tmp_path / "sketch.png"
    Image.fromarray(render_sample(1, 2, 256)[2]).save(sketch)
    for t in (0.0, 0.5, 1.0):
        response = httpx.post(f"{gateway_url}/v1/faces", data={"t": str(t)},
                              files={"sketch": ("sketch.png", sketch.read_bytes(), "image/png")},
                              timeout=60)
        assert response.status_code == 200, response.text

    faces = 'sketch2idol_gateway_request_duration_seconds_bucket{route="/v1/faces",status="200"}'
    rate = ('sum(rate(sketch2idol_gateway_request_duration_seconds_count'
            '{route="/v1/faces"}[1m]))')
    triton = 'nv_inference_request_success{model="sketch2face"}'

    def values(promql: str) -> list[float]:
        return [float(sample["value"][1]) for sample in query(prometheus, promql)]

    def scraped() -> bool:  # every request of ours is in the scraped series
        return (max(values(faces), default=0) >= 3  # the +Inf bucket counts them all
                and sum(values(rate)) > 0 and sum(values(triton)) >= 3)

    wait_until(scraped, 60,
               lambda: {promql: query(prometheus, promql) for promql in (faces, rate, triton)})
    assert {sample["metric"]["method"] for sample in query(prometheus, faces)} == {"POST"}
