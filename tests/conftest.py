"""Session fixtures shared by the export and serving tests (built once per test run)."""

from __future__ import annotations

import pytest

from sketch2idol.core.weights import DEFAULT_WEIGHTS
from sketch2idol.export.repository import ExportRequest, build_repository
from sketch2idol.export.triton_config import DeploymentOptions

# Small dynamic-batching delay keeps the concurrency tests quick but still batching.
TEST_OPTIONS = DeploymentOptions(max_batch=8, max_queue_delay_us=20_000)


@pytest.fixture(scope="session")
def exported_repository(tmp_path_factory):
    """The default weights exported (fp32, python-ort) into a fresh model repository."""
    out = tmp_path_factory.mktemp("model_repository")
    report = build_repository(ExportRequest(weights=DEFAULT_WEIGHTS, out=out,
                                            options=TEST_OPTIONS, parity_count=6),
                              say=lambda line: None)
    return out, report


@pytest.fixture(scope="session")
def triton_server(exported_repository, tmp_path_factory):
    """A real tritonserver on free loopback ports serving `exported_repository`."""
    from sketch2idol.launch.tritonserver import TritonServer, free_ports

    repository, _ = exported_repository
    http_port, grpc_port, metrics_port = free_ports(3)
    with TritonServer(repository, http_port=http_port, grpc_port=grpc_port,
                      metrics_port=metrics_port,
                      work_dir=tmp_path_factory.mktemp("triton")) as running:
        yield running
