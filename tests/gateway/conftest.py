"""A real gateway process in front of the session's real tritonserver."""

from __future__ import annotations

import pytest
from gateway_process import start_gateway


@pytest.fixture(scope="session")
def gateway_process(triton_server, exported_repository, tmp_path_factory):
    repository, _ = exported_repository
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    process, url = start_gateway(triton_server.grpc_address, repository, log)
    yield process, url, log
    process.stop()


@pytest.fixture(scope="session")
def gateway_url(gateway_process) -> str:
    return gateway_process[1]
