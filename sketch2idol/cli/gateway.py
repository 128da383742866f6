"""`sketch2idol gateway`: run the FastAPI gateway (uvicorn) in front of Triton."""

from __future__ import annotations

import argparse
import copy
import signal
from pathlib import Path

from sketch2idol.cli.serve import port
from sketch2idol.core import contract
from sketch2idol.core.errors import UserError


def register(groups: argparse._SubParsersAction) -> None:
    gateway = groups.add_parser(
        "gateway", help="run the HTTP gateway and drawing page",
        description="Serve POST /v1/faces, GET /v1/looks, GET /v1/config, the drawing page, "
                    "/healthz, /readyz and /metrics in front of Triton's sketch2face ensemble. "
                    "Other settings come from S2I_* environment variables (see "
                    "sketch2idol/gateway/settings.py).")
    gateway.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    gateway.add_argument("--port", type=port, default=contract.GATEWAY_PORT,
                         help=f"port ({contract.GATEWAY_PORT})")
    gateway.add_argument("--triton-grpc", default=None,
                         help="Triton gRPC host:port (default S2I_TRITON_GRPC or "
                              f"127.0.0.1:{contract.TRITON_GRPC_PORT})")
    gateway.add_argument("--model-repository", type=Path, default=None,
                         help="model repository whose projection versions' bank ids and "
                              "guide sketches give neighbor_ids and the drawing guide "
                              "(default S2I_MODEL_REPOSITORY or model_repository)")
    gateway.add_argument("--log-level", default="info",
                         choices=("critical", "error", "warning", "info", "debug"))
    gateway.set_defaults(handler=run_gateway)


def log_config(level: str) -> dict:
    """uvicorn's logging set-up plus the gateway's own `sketch2idol.*` loggers (refusals at
    INFO, an unavailable model at WARNING) on the same stream, one line each."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["sketch2idol"] = {"handlers": ["default"], "level": level.upper(),
                                        "propagate": False}
    return config


def run_gateway(args: argparse.Namespace) -> int:
    import uvicorn

    from sketch2idol.gateway.app import create_app
    from sketch2idol.gateway.settings import Settings

    try:
        settings = Settings.from_env(triton_grpc=args.triton_grpc,
                                     model_repository=args.model_repository)
    except ValueError as error:
        raise UserError(str(error)) from None
    config = uvicorn.Config(create_app(settings), host=args.host, port=args.port,
                            log_level=args.log_level, timeout_graceful_shutdown=30,
                            log_config=log_config(args.log_level))
    server = uvicorn.Server(config)
    # On SIGTERM uvicorn stops accepting connections, drains the requests in flight (up to
    # timeout_graceful_shutdown), then raises SIGTERM again under the handler that was there
    # before it; with the default one the process would die "killed by SIGTERM" after a
    # clean drain. A drained stop is a clean exit: return 0.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not server.started:
        raise UserError(f"the gateway could not start on {args.host}:{args.port} "
                        "(port in use?)")
    return 0
