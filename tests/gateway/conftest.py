"""A real gateway process in front of the session's real tritonserver."""

from __future__ import annotations

import pytest
from gateway_process import start_gateway

#: The shared gateway serves many test modules from one address (127.0.0.1), back to back,
#: so the per-client limits are off here; test_security.py tests them on gateways of its own.
SHARED_GATEWAY_ENV = {"S2I_RATE_LIMIT_PER_S": "0", "S2I_MAX_CLIENT_CONCURRENCY": "0"}


@pytest.fixture(scope="session")
def gateway_process(triton_server, exported_repository, tmp_path_factory):
    repository, _ = exported_repository
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    process, url = start_gateway(triton_server.grpc_address, repository, log,
                                 env=SHARED_GATEWAY_ENV)
    yield process, url, log
    process.stop()


@pytest.fixture(scope="session")
def gateway_url(gateway_process) -> str:
    return gateway_process[1]
