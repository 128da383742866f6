"""`sketch2idol demo`: Triton + the gateway + the drawing page, supervised, on this machine.

Starts tritonserver on loopback and the gateway (`sketch2idol gateway`) in front of it,
renders a held-out procedural sketch to a face through the gateway
(`BUILD/demo/sample_sketch.png`, `sample_face.png`), prints the page's address, then keeps
both running (`sketch2idol.launch.supervisor`: a process that dies is restarted with backoff) until
SIGINT (exit 130) or SIGTERM (exit 0), which stop the gateway, then Triton.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from sketch2idol.cli.arguments import positive_int
from sketch2idol.cli.serve import EXIT_CODE_BY_SIGNAL, StopRequested, port, request_stop
from sketch2idol.core import contract
from sketch2idol.core.errors import UserError
from sketch2idol.core.geometry import DEFAULT_SIZE

EXPORT_REPORT = "export_report.json"  # written last by `sketch2idol export`
SUPERVISE_INTERVAL_S = 0.5
SAMPLE_SEED, SAMPLE_INDEX, SAMPLE_SIZE = 1, 0, DEFAULT_SIZE  # a held-out procedural face
SAMPLE_T = 0.5
LOCAL_HOSTS = ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost", "")
#: Where this machine reaches a server bound to a wildcard address.
LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1", "localhost": "127.0.0.1"}


def register(groups: argparse._SubParsersAction) -> None:
    demo = groups.add_parser(
        "demo", help="run Triton and the gateway together (the drawing page)",
        description="Start tritonserver (loopback) and the gateway in front of it, render a "
                    "sample face, print the page's address and keep both running (a process "
                    "that dies is restarted with backoff) until Ctrl-C.")
    demo.add_argument("--model-repository", type=Path, default=Path("model_repository"),
                      help="exported Triton model repository (default: model_repository)")
    demo.add_argument("--host", default="127.0.0.1",
                      help="address the gateway binds to (default: 127.0.0.1)")
    demo.add_argument("--port", type=port, default=contract.GATEWAY_PORT,
                      help=f"gateway port (default: {contract.GATEWAY_PORT})")
    for endpoint, label, default in (("http", "HTTP", contract.TRITON_HTTP_PORT),
                                     ("grpc", "gRPC", contract.TRITON_GRPC_PORT),
                                     ("metrics", "metrics", contract.TRITON_METRICS_PORT)):
        demo.add_argument(f"--{endpoint}-port", type=port, default=default,
                          help=f"Triton {label} port on 127.0.0.1 (default: {default})")
    demo.add_argument("--build-dir", type=Path, default=Path("build"),
                      help="logs go to BUILD/triton and BUILD/demo, the sample face to "
                           "BUILD/demo (default: build)")
    demo.add_argument("--ready-timeout", type=positive_int, default=120, metavar="SECONDS",
                      help="give up if Triton or the gateway is not ready after this long "
                           "(default: 120)")
    demo.set_defaults(handler=run_demo)


def check_repository(repository: Path) -> None:
    """A one-line UserError unless `repository` is an exported model repository."""
    if not repository.is_dir():
        raise UserError(f"model repository {repository} not found — run `make model-repository`")
    if not (repository / EXPORT_REPORT).is_file():
        raise UserError(f"model repository {repository} has not been exported (no "
                        f"{EXPORT_REPORT}) — run `make model-repository`")


def page_url(host: str, gateway_port: int) -> str:
    """The address to open in a browser on this machine."""
    shown = "localhost" if host in LOCAL_HOSTS else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{gateway_port}"


def local_url(host: str, gateway_port: int) -> str:
    """The gateway's address for clients on this machine (the demo's own requests)."""
    host = LOOPBACK_FOR.get(host, host)
    return f"http://[{host}]:{gateway_port}" if ":" in host else f"http://{host}:{gateway_port}"


def gateway_command(host: str, gateway_port: int, triton_grpc: str) -> list[str]:
    """`sketch2idol gateway ...` run by this Python."""
    return [sys.executable, "-m", "sketch2idol", "gateway", "--host", host,
            "--port", str(gateway_port), "--triton-grpc", triton_grpc]


def build_supervisor(args: argparse.Namespace):
    """The TritonServer and gateway of these options, under one Supervisor.

    Busy ports are refused here, before anything starts.
    """
    from sketch2idol.launch.tritonserver import TritonServer, port_is_free

    build_dir = args.build_dir.absolute()
    triton = TritonServer(args.model_repository, http_port=args.http_port,
                          grpc_port=args.grpc_port, metrics_port=args.metrics_port,
                          work_dir=build_dir / "triton")
    triton.check_startable()
    if not port_is_free(args.host, args.port):
        raise UserError(f"gateway port {args.host}:{args.port} is already in use")

    from sketch2idol.launch.supervisor import GatewayProcess, Supervisor

    gateway_url = local_url(args.host, args.port)
    environment = dict(os.environ, S2I_MODEL_REPOSITORY=str(args.model_repository.absolute()))
    gateway = GatewayProcess(gateway_command(args.host, args.port, triton.grpc_address),
                             build_dir / "demo" / "gateway.log", f"{gateway_url}/healthz",
                             env=environment)
    gateway.log_file.parent.mkdir(parents=True, exist_ok=True)
    gateway.log_file.write_text("")  # this demo's lines only; restarts append
    return Supervisor(triton, gateway, say=say, ready_timeout_s=args.ready_timeout), gateway_url


def say(line: str) -> None:
    print(line, flush=True)


def render_sample_face(gateway_url: str, out_dir: Path, timeout_s: float) -> tuple[Path, Path]:
    """POST a held-out procedural sketch to the gateway; write the sketch and its face."""
    from PIL import Image

    from sketch2idol.cli.generate import gateway_generate
    from sketch2idol.core.data.synth import render_sample
    from sketch2idol.gateway.uploads import png_bytes

    sketch = render_sample(SAMPLE_SEED, SAMPLE_INDEX, SAMPLE_SIZE)[2]
    sketch_path, face_path = out_dir / "sample_sketch.png", out_dir / "sample_face.png"
    out_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sketch).save(sketch_path)
    images = gateway_generate(gateway_url, png_bytes(sketch), [SAMPLE_T] * 5,
                              timeout_s=timeout_s, filename=sketch_path.name)
    face_path.write_bytes(images.face_png)
    return sketch_path, face_path


def wait_until_ready(gateway_url: str, timeout_s: float) -> None:
    """Wait for the gateway's /readyz (Triton reachable through it)."""
    from sketch2idol.launch.supervisor import url_answers

    deadline = time.monotonic() + timeout_s
    while not url_answers(f"{gateway_url}/readyz"):
        if time.monotonic() > deadline:
            raise UserError(f"the gateway's {gateway_url}/readyz did not answer 200 within "
                            f"{timeout_s:g} s")
        time.sleep(0.2)


def announce(supervisor, gateway_url: str, build_dir: Path, ready_timeout_s: float) -> None:
    """Print where everything is, render the sample face, and the page's address last."""
    triton, gateway = supervisor.triton, supervisor.gateway
    say(f"tritonserver ready (pid {triton.pid}): gRPC {triton.grpc_url}, metrics "
        f"{triton.metrics_url}\n"
        f"gateway ready (pid {gateway.pid}): {gateway_url}\n"
        f"logs: {triton.log_file}\n"
        f"      {gateway.log_file}")
    wait_until_ready(gateway_url, ready_timeout_s)
    try:
        sketch_path, face_path = render_sample_face(gateway_url, build_dir / "demo",
                                                    ready_timeout_s)
        say(f"sample: {sketch_path} -> {face_path}")
    except UserError as error:
        say(f"sample face failed: {error}")


def run_demo(args: argparse.Namespace) -> int:
    check_repository(args.model_repository)
    supervisor, gateway_url = build_supervisor(args)
    previous = {signum: signal.signal(signum, request_stop) for signum in EXIT_CODE_BY_SIGNAL}
    try:
        say(f"starting tritonserver on {args.model_repository} and the gateway on "
            f"{gateway_url} ...")
        supervisor.start()
        announce(supervisor, gateway_url, args.build_dir.absolute(), args.ready_timeout)
        say(f"\n  open {page_url(args.host, args.port)}\n\n(Ctrl-C stops the demo)")
        while True:
            supervisor.poll()
            time.sleep(SUPERVISE_INTERVAL_S)
    except StopRequested as stop:
        say(f"stopping ({stop}): gateway, then tritonserver ...")
        supervisor.stop()
        say("demo stopped")
        return EXIT_CODE_BY_SIGNAL[stop.signum]
    finally:
        supervisor.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
