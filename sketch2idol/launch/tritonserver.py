"""Run the real Triton Inference Server that the nvidia-pytriton wheel ships, without containers.

The wheel carries the `tritonserver` binary, the Python backend (`libtriton_python.so` and
`triton_python_backend_utils.py`), one Python-backend stub per Python version and the shared
libraries everything links against (`site-packages/nvidia_pytriton.libs`). This module

- finds those pieces (`locate_triton`, `TritonNotAvailable` when the wheel or the stub for the
  running Python is missing),
- assembles a backend directory with the stub for this Python beside the backend
  (`prepare_backend_directory`, symlinks, idempotent),
- builds the environment (`triton_environment`: the wheel's libraries on LD_LIBRARY_PATH, this
  virtualenv's `bin` first on PATH, which is how the stub finds the virtualenv's packages),
- and runs the server (`TritonServer`): refuse early on a busy port or a missing model
  repository, start Triton in its own process group, wait for /v2/health/ready, and on failure
  raise `TritonStartError` with one line naming the reason (the model that failed to load and
  Triton's error for it) and the log path, leaving no process behind.

`free_port` / `free_ports` pick unused loopback ports for tests.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sketch2idol.core import contract
from sketch2idol.core.errors import UserError
from sketch2idol.launch.process import ChildProcess, describe_exit, url_answers

DEFAULT_WORK_DIR = Path("build/triton")
LOG_NAME = "tritonserver.log"
MODEL_CONTROL_MODES = ("none", "explicit")
STUB_NAME = "triton_python_backend_stub"
BACKEND_FILES = ("libtriton_python.so", "triton_python_backend_utils.py")
# How long stop() waits after Triton's own --exit-timeout-secs before it kills the group.
STOP_GRACE_S = 10.0
# Error lines Triton logs on every CPU-only start; they explain nothing about a failure.
HARMLESS_ERRORS = ("CudaDriverHelper has not been initialized",)
# A Triton log line in the default format: `E1124 17:22:22.410599 28531 file.cc:642] "message"`.
LOG_LINE = re.compile(r'^(?P<level>[IWEF])\d{4} [\d:.]+\s+\d+ [^\]]+\] "?(?P<message>.*?)"?$')


class TritonNotAvailable(UserError):
    """The nvidia-pytriton wheel, or the part of it this Python needs, is not installed."""


class TritonStartError(UserError):
    """Triton refused to start, died while starting or did not become ready in time."""


@dataclass(frozen=True)
class TritonInstallation:
    """Paths of the pieces of the nvidia-pytriton wheel needed to run `tritonserver`."""

    server_binary: Path
    python_backend_dir: Path  # holds libtriton_python.so and triton_python_backend_utils.py
    stub: Path  # the Python-backend stub built for the running Python
    libs_dir: Path  # nvidia_pytriton.libs: libtritonserver, libcudart, ...
    caches_dir: Path


def locate_triton() -> TritonInstallation:
    """Find the wheel's tritonserver pieces for this Python, or raise `TritonNotAvailable`."""
    spec = importlib.util.find_spec("pytriton")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise TritonNotAvailable("tritonserver is not installed: pip install nvidia-pytriton")
    package_dir = Path(list(spec.submodule_search_locations)[0])
    dist_dir = package_dir / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    installation = TritonInstallation(
        server_binary=dist_dir / "bin" / "tritonserver",
        python_backend_dir=dist_dir / "backends" / "python",
        stub=dist_dir / "python_backend_stubs" / version / STUB_NAME,
        libs_dir=package_dir.parent / "nvidia_pytriton.libs",
        caches_dir=dist_dir / "caches",
    )
    if not installation.stub.is_file():
        raise TritonNotAvailable(f"nvidia-pytriton has no Python-backend stub for Python "
                                 f"{version} (looked for {installation.stub})")
    for path in (installation.server_binary, installation.libs_dir,
                 *(installation.python_backend_dir / name for name in BACKEND_FILES)):
        if not path.exists():
            raise TritonNotAvailable(f"the nvidia-pytriton install is incomplete: {path} "
                                     "is missing (reinstall nvidia-pytriton)")
    return installation


def prepare_backend_directory(installation: TritonInstallation, work_dir: Path) -> Path:
    """Make `work_dir/backends/python` (backend + utils + this Python's stub, as symlinks).

    Returns the directory to pass as `--backend-directory`. Safe to call again: links that
    already point to the right files are kept, anything else in their place is replaced.
    """
    backends_dir = Path(work_dir).absolute() / "backends"
    python_dir = backends_dir / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    targets = {name: installation.python_backend_dir / name for name in BACKEND_FILES}
    targets[STUB_NAME] = installation.stub
    for name, target in targets.items():
        link = python_dir / name
        if link.is_symlink() and os.readlink(link) == str(target):
            continue
        staged = python_dir / f".{name}.{os.getpid()}"  # then renamed: safe for two processes
        staged.unlink(missing_ok=True)
        staged.symlink_to(target)
        os.replace(staged, link)
    return backends_dir


def triton_environment(installation: TritonInstallation,
                       base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for `tritonserver`: the wheel's libraries, this virtualenv's bin first."""
    env = dict(os.environ if base is None else base)
    library_path = [str(installation.libs_dir)]
    if env.get("LD_LIBRARY_PATH"):
        library_path.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(library_path)
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", os.defpath)])
    return env


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's pick); for tests."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free TCP ports (all held open while picking, so they differ)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (tries to bind it, as Triton will)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no listener
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def startup_errors(log_text: str, console_text: str = "") -> list[str]:
    """Why Triton failed to start, from its log and console output, most specific first.

    Model failures come first ("failed to load 'X' version 1: ...", "Poll failed for model
    directory 'X': ..."), then other error lines, then the console's "error: ..." line. Each
    reason is cut at its first (escaped) newline, which drops the Python tracebacks.
    """
    model_errors, other_errors = [], []
    for line in log_text.splitlines():
        match = LOG_LINE.match(line)
        if not match or match["level"] not in "EF":
            continue
        message = match["message"].split("\\n")[0].strip()
        if not message or message.startswith(HARMLESS_ERRORS):
            continue
        reasons = model_errors if re.search(r"model[^']*'[^']+'|load '[^']+'", message) \
            else other_errors
        if message not in reasons:
            reasons.append(message)
    console_errors = [line.strip() for line in console_text.splitlines()
                      if line.startswith("error:")]
    return model_errors + other_errors + console_errors


def models_still_loading(log_text: str) -> list[str]:
    """Models the log shows loading but neither loaded nor failed (why a start timed out)."""
    started = re.findall(r'"loading: (.+?):\d+"', log_text)
    finished = set(re.findall(r"(?:successfully loaded|failed to load) '([^']+)'", log_text))
    return [name for name in dict.fromkeys(started) if name not in finished]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def parent_pid(pid: int) -> int | None:
    """The parent of a process (from /proc/<pid>/stat), None when it is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])  # the name in (...) may hold spaces


def stub_processes(pgid: int | None = None, parent: int | None = None
                   ) -> dict[int, list[bytes]]:
    """pid -> command line of the Python-backend stubs alive in process group `pgid` and/or
    started by `parent` (a killed Triton's orphaned stubs keep only their group)."""
    stubs = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if pgid is not None and os.getpgid(pid) != pgid:
                continue
            if parent is not None and parent_pid(pid) != parent:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if argv[0].endswith(STUB_NAME.encode()):
            stubs[pid] = argv
    return stubs


def _stub_shm_regions(pgid: int) -> list[Path]:
    """The /dev/shm regions of the Python-backend stubs alive in a process group.

    Triton creates one region per model instance and removes it when it unloads the model;
    a killed Triton leaves them behind, so stop() removes those of the stubs it kills.
    """
    return [Path("/dev/shm") / os.fsdecode(argv[2])
            for argv in stub_processes(pgid).values() if len(argv) > 2]


class TritonServer:
    """One `tritonserver` process serving a model repository; start(), stop(), or `with`.

    The server listens on `host` (loopback by default) for HTTP, gRPC and metrics. Triton's
    log goes to `log_file` (default `work_dir/tritonserver.log`, emptied at each start) and
    what it prints to stdout/stderr to `console_log`, the sibling `.out` file.
    """

    def __init__(self, model_repository: Path, *, http_port: int = contract.TRITON_HTTP_PORT,
                 grpc_port: int = contract.TRITON_GRPC_PORT,
                 metrics_port: int = contract.TRITON_METRICS_PORT, host: str = "127.0.0.1",
                 model_control_mode: str = "none", load_models: Sequence[str] = (),
                 work_dir: Path = DEFAULT_WORK_DIR, log_file: Path | None = None,
                 log_verbose: int = 0, exit_timeout_s: int = 30, strict_readiness: bool = True,
                 ready_timeout_s: float = 120.0, extra_args: Sequence[str] = ()) -> None:
        if model_control_mode not in MODEL_CONTROL_MODES:
            raise UserError(f"model control mode must be one of {', '.join(MODEL_CONTROL_MODES)}"
                            f", got {model_control_mode!r}")
        if load_models and model_control_mode != "explicit":
            raise UserError("loading chosen models needs model control mode 'explicit'")
        self.model_repository = Path(model_repository).absolute()
        self.ports = {"http": http_port, "grpc": grpc_port, "metrics": metrics_port}
        self.host = host
        self.model_control_mode = model_control_mode
        self.load_models = list(load_models)
        self.work_dir = Path(work_dir).absolute()
        self.log_file = Path(log_file or self.work_dir / LOG_NAME).absolute()
        self.console_log = self.log_file.with_suffix(".out")
        if self.console_log == self.log_file:
            self.console_log = self.log_file.with_name(self.log_file.name + ".console")
        self.log_verbose = log_verbose
        self.exit_timeout_s = exit_timeout_s
        self.strict_readiness = strict_readiness
        self.ready_timeout_s = ready_timeout_s
        self.extra_args = list(extra_args)
        self._child: ChildProcess | None = None

    # -- addresses ---------------------------------------------------------------------------
    @property
    def client_host(self) -> str:
        """The host a client on this machine connects to (loopback for a wildcard bind)."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"[{host}]" if ":" in host else host

    @property
    def http_address(self) -> str:
        """host:port of the HTTP endpoint, the form `tritonclient.http` takes."""
        return f"{self.client_host}:{self.ports['http']}"

    @property
    def grpc_address(self) -> str:
        """host:port of the gRPC endpoint, the form `tritonclient.grpc` takes."""
        return f"{self.client_host}:{self.ports['grpc']}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_address}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.grpc_address}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.client_host}:{self.ports['metrics']}/metrics"

    @property
    def pid(self) -> int | None:
        """The tritonserver process id (also its process group id), None before start()."""
        return self._child.pid if self._child else None

    # -- state -------------------------------------------------------------------------------
    def alive(self) -> bool:
        """Whether the tritonserver process is running."""
        return self._child is not None and self._child.alive()

    def is_ready(self, timeout_s: float = 1.0) -> bool:
        """Whether /v2/health/ready answers 200 (with strict readiness: all models loaded)."""
        return self._health_answers("ready", timeout_s)

    def is_live(self, timeout_s: float = 1.0) -> bool:
        """Whether /v2/health/live answers 200 (the server runs, whatever its models do)."""
        return self._health_answers("live", timeout_s)

    def _health_answers(self, check: str, timeout_s: float) -> bool:
        return url_answers(f"{self.http_url}/v2/health/{check}", timeout_s)

    def failure_reason(self) -> str:
        """One line: why the server failed, from its log, or that nothing was logged."""
        log_text = _read_text(self.log_file)
        reasons = startup_errors(log_text, _read_text(self.console_log))
        if loading := models_still_loading(log_text):
            reasons.append(f"models still loading: {', '.join(loading)}")
        return "; ".join(reasons) if reasons else "no error in its log"

    # -- command line ------------------------------------------------------------------------
    def command(self, installation: TritonInstallation, backend_dir: Path) -> list[str]:
        """The tritonserver command line for these options."""
        command = [
            str(installation.server_binary),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={backend_dir}",
            f"--cache-directory={installation.caches_dir}",
            f"--model-control-mode={self.model_control_mode}",
            *(f"--load-model={name}" for name in self.load_models),
            f"--http-address={self.host}", f"--http-port={self.ports['http']}",
            f"--grpc-address={self.host}", f"--grpc-port={self.ports['grpc']}",
            f"--metrics-address={self.host}", f"--metrics-port={self.ports['metrics']}",
            f"--strict-readiness={str(self.strict_readiness).lower()}",
            f"--exit-timeout-secs={self.exit_timeout_s}",
            f"--log-verbose={self.log_verbose}",
            f"--log-file={self.log_file}",
        ]
        return command + self.extra_args

    def check_startable(self) -> None:
        """Raise `TritonStartError` (one line) for what would stop Triton before starting it."""
        if self.alive():
            raise TritonStartError(f"tritonserver is already running (pid {self.pid})")
        if not self.model_repository.is_dir():
            raise TritonStartError(f"model repository {self.model_repository} is not a directory")
        if len(set(self.ports.values())) != len(self.ports):
            raise TritonStartError(f"HTTP, gRPC and metrics need three different ports, got "
                                   f"{self.ports}")
        for name, port in self.ports.items():
            if not port_is_free(self.host, port):
                raise TritonStartError(f"{name} port {self.host}:{port} is already in use")

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout_s: float | None = None, wait_for: str = "ready") -> TritonServer:
        """Start Triton and wait until it is ready (wait_for="live": only until it answers,
        e.g. to look at a server whose models failed, run with --exit-on-error=false); on any
        failure stop it and raise."""
        if wait_for not in ("ready", "live"):
            raise ValueError(f"wait_for must be 'ready' or 'live', got {wait_for!r}")
        self.check_startable()
        installation = locate_triton()
        backend_dir = prepare_backend_directory(installation, self.work_dir)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.write_text("")  # Triton appends; keep only this run's lines
        self._child = ChildProcess(self.command(installation, backend_dir), self.console_log,
                                   env=triton_environment(installation), append=False)
        try:
            self._child.start()
            self._wait_until(self.is_ready if wait_for == "ready" else self.is_live, wait_for,
                             self.ready_timeout_s if timeout_s is None else timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until(self, answers: Callable[[], bool], state: str, timeout_s: float) -> None:
        def exited(code: int) -> Exception:
            return TritonStartError(f"tritonserver {describe_exit(code)} while starting: "
                                    f"{self.failure_reason()} (log: {self.log_file})")

        def timed_out() -> Exception:
            self.stop()  # flushes the log, so the reason below is complete
            return TritonStartError(f"tritonserver was not {state} after {timeout_s:g} s: "
                                    f"{self.failure_reason()} (log: {self.log_file})")

        self._child.wait_until(answers, timeout_s, exited=exited, timed_out=timed_out)

    def stop(self) -> int | None:
        """SIGTERM Triton, wait out its exit timeout, SIGKILL what is left of its group (the
        stubs, even after a clean exit) and remove the stubs' shared-memory regions.

        Returns the exit code (None if it was never started). Safe to call again.
        """
        if self._child is None:
            return None
        regions: list[Path] = []
        code = self._child.stop(self.exit_timeout_s + STOP_GRACE_S, terminate_group=False,
                                before_kill=lambda pgid: regions.extend(_stub_shm_regions(pgid)))
        for region in regions:
            region.unlink(missing_ok=True)
        return code

    def __enter__(self) -> TritonServer:
        if not self.alive():
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
