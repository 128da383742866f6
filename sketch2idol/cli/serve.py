"""`sketch2idol serve-triton`: run Triton Inference Server on a model repository until stopped.

SIGINT and SIGTERM stop the server cleanly (exit 130 and 0); if Triton dies on its own the
command exits 1 with a one-line reason and the log path.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from sketch2idol.cli.arguments import non_negative_int, positive_int
from sketch2idol.core import contract
from sketch2idol.core.errors import UserError

ALIVE_CHECK_INTERVAL_S = 0.5
EXIT_CODE_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 0}


def port(text: str) -> int:
    """An argparse type: a TCP port number."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number <= 65535, got {value}")
    return value


def register(groups: argparse._SubParsersAction) -> None:
    serve = groups.add_parser(
        "serve-triton", help="serve a model repository with Triton Inference Server",
        description="Start the tritonserver shipped in the nvidia-pytriton wheel, wait until "
                    "it is ready, print its URLs and serve until SIGINT/SIGTERM.")
    serve.add_argument("--model-repository", type=Path, default=Path("model_repository"),
                       help="Triton model repository (default: model_repository)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address HTTP, gRPC and metrics bind to (default: 127.0.0.1)")
    for endpoint, default in (("http", contract.TRITON_HTTP_PORT),
                              ("grpc", contract.TRITON_GRPC_PORT),
                              ("metrics", contract.TRITON_METRICS_PORT)):
        serve.add_argument(f"--{endpoint}-port", type=port, default=default,
                           help=f"default: {default}")
    serve.add_argument("--model-control-mode", choices=("none", "explicit"), default="none",
                       help="none: load every model at start; explicit: only --load-model "
                            "ones, the rest through the model-control API (default: none)")
    serve.add_argument("--load-model", action="append", default=[], metavar="NAME",
                       help="model to load at start (repeatable; needs explicit mode)")
    serve.add_argument("--log", type=Path, default=Path("build/triton/tritonserver.log"),
                       help="Triton's log file (default: build/triton/tritonserver.log); "
                            "its stdout/stderr go to the sibling .out file")
    serve.add_argument("--log-verbose", type=non_negative_int, default=0,
                       help="Triton verbose log level, 0 = off (default: 0)")
    serve.add_argument("--ready-timeout", type=positive_int, default=120, metavar="SECONDS",
                       help="give up if not ready after this long (default: 120)")
    serve.set_defaults(handler=run_serve)


class StopRequested(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def request_stop(signum: int, _frame) -> None:
    for handled in EXIT_CODE_BY_SIGNAL:  # a second Ctrl-C must not interrupt the clean stop
        signal.signal(handled, signal.SIG_IGN)
    raise StopRequested(signum)


def run_serve(args: argparse.Namespace) -> int:
    from sketch2idol.launch.tritonserver import TritonServer, describe_exit

    if args.load_model and args.model_control_mode != "explicit":
        raise UserError("--load-model needs --model-control-mode explicit")
    server = TritonServer(
        args.model_repository, http_port=args.http_port, grpc_port=args.grpc_port,
        metrics_port=args.metrics_port, host=args.host,
        model_control_mode=args.model_control_mode, load_models=args.load_model,
        work_dir=args.log.parent, log_file=args.log, log_verbose=args.log_verbose)
    previous = {signum: signal.signal(signum, request_stop) for signum in EXIT_CODE_BY_SIGNAL}
    try:
        server.start(args.ready_timeout)
        print(f"tritonserver ready (pid {server.pid}), serving {server.model_repository}\n"
              f"  HTTP     {server.http_url}\n"
              f"  gRPC     {server.grpc_url}\n"
              f"  metrics  {server.metrics_url}\n"
              f"  log      {server.log_file}", flush=True)
        while server.alive():
            time.sleep(ALIVE_CHECK_INTERVAL_S)
        code = server.stop()
        print(f"sketch2idol: error: tritonserver {describe_exit(code)} on its own: "
              f"{server.failure_reason()} (log: {server.log_file})", file=sys.stderr)
        return 1
    except StopRequested as stop:
        server.stop()
        print(f"tritonserver stopped ({stop})", flush=True)
        return EXIT_CODE_BY_SIGNAL[stop.signum]
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
