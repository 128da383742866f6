"""`sketch2idol demo` as a real process tree: tritonserver, its stubs and the gateway.

One demo runs on free ports with the session's exported repository: it must render the
sample face, survive a SIGKILLed tritonserver (the gateway answers 503, keeps its pid and
recovers when the supervisor has restarted Triton) and a SIGKILLed gateway (restarted,
Triton untouched), and stop everything on SIGINT. The restart delays are checked on their
own, without processes.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from sketch2idol.cli import main
from sketch2idol.launch.supervisor import RESET_AFTER_S, RestartState
from sketch2idol.launch.tritonserver import free_ports

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 300  # two cores, a second tritonserver beside the session's


def proc_children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    children, found, todo = proc_children(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    """The process's argv ([] when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def still_running(pid: int, argv: list[str]) -> bool:
    """Whether `pid` is still that process (same argv) and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z" and cmdline(pid) == argv


def tritonserver_of(demo_pid: int, repository: Path) -> int | None:
    """The demo's tritonserver: the descendant serving `repository`."""
    for pid in descendants(demo_pid):
        argv = cmdline(pid)
        if argv and argv[0].endswith("tritonserver") and \
                f"--model-repository={repository}" in argv:
            return pid
    return None


def gateway_of(demo_pid: int) -> int | None:
    for pid in descendants(demo_pid):
        if cmdline(pid)[2:4] == ["sketch2idol", "gateway"]:
            return pid
    return None


def readyz(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code
    except httpx.HTTPError:
        return None


def wait_for_status(url: str, status: int, timeout_s: float) -> float:
    """Seconds until /readyz answers `status`."""
    started = time.monotonic()
    while readyz(url) != status:
        assert time.monotonic() - started < timeout_s, f"/readyz never answered {status}"
        time.sleep(0.1)
    return time.monotonic() - started


class OutputReader:
    """The demo's stdout lines, read by a thread, waited for by content."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in time:\n" + "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"the demo ended before {text!r}:\n" + "\n".join(self.lines))
            self.lines.append(line)
            if text in line:
                return line


@pytest.fixture
def demo(exported_repository, tmp_path):
    """A running `sketch2idol demo` on free ports: (process, gateway URL, output, build dir)."""
    repository, _ = exported_repository
    gateway_port, http_port, grpc_port, metrics_port = free_ports(4)
    build_dir = tmp_path / "build"
    process = subprocess.Popen(
        [sys.executable, "-m", "sketch2idol", "demo", "--model-repository", str(repository),
         "--port", str(gateway_port), "--http-port", str(http_port), "--grpc-port",
         str(grpc_port), "--metrics-port", str(metrics_port), "--build-dir", str(build_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPOSITORY_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    output = OutputReader(process.stdout)
    try:
        yield process, f"http://127.0.0.1:{gateway_port}", output, build_dir
    finally:
        family = {pid: cmdline(pid) for pid in descendants(process.pid)}
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid, argv in family.items():  # only after a failed test: nothing may outlive it
            if still_running(pid, argv):
                os.kill(pid, signal.SIGKILL)


def assert_a_face_comes_back(url: str, sketch_path: Path) -> None:
    with open(sketch_path, "rb") as sketch:
        response = httpx.post(f"{url}/v1/faces", files={"sketch": sketch}, timeout=60)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"


def test_demo_serves_survives_killed_servers_and_stops_cleanly(demo, exported_repository):
    process, url, output, build_dir = demo
    repository = exported_repository[0].resolve()
    port = url.rpartition(":")[2]
    output.wait_for(f"open http://localhost:{port}", START_TIMEOUT_S)
    assert any(str(build_dir / "triton" / "tritonserver.log") in line for line in output.lines)
    assert any(str(build_dir / "demo" / "gateway.log") in line for line in output.lines)
    with Image.open(build_dir / "demo" / "sample_face.png") as face:
        assert (face.mode, face.size) == ("RGB", (256, 256))
    assert (build_dir / "demo" / "sample_sketch.png").is_file()
    assert readyz(url) == 200

    gateway_pid, triton_pid = gateway_of(process.pid), tritonserver_of(process.pid, repository)
    assert gateway_pid and triton_pid
    os.kill(triton_pid, signal.SIGKILL)
    wait_for_status(url, 503, timeout_s=30)
    output.wait_for("restarting in 1 s", timeout_s=30)
    wait_for_status(url, 200, timeout_s=START_TIMEOUT_S)
    output.wait_for("tritonserver ready again", timeout_s=30)
    assert gateway_of(process.pid) == gateway_pid  # the gateway was never touched
    assert tritonserver_of(process.pid, repository) not in (None, triton_pid)
    assert_a_face_comes_back(url, build_dir / "demo" / "sample_sketch.png")

    triton_pid = tritonserver_of(process.pid, repository)
    os.kill(gateway_pid, signal.SIGKILL)
    output.wait_for("gateway ready again", timeout_s=60)
    assert gateway_of(process.pid) not in (None, gateway_pid)
    assert tritonserver_of(process.pid, repository) == triton_pid
    assert_a_face_comes_back(url, build_dir / "demo" / "sample_sketch.png")

    family = {pid: cmdline(pid) for pid in descendants(process.pid)}
    assert len(family) >= 6  # tritonserver, its four stubs, the gateway
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    output.wait_for("demo stopped", timeout_s=5)
    left = [argv[:2] for pid, argv in family.items() if still_running(pid, argv)]
    assert not left, f"processes outlived the demo: {left}"


def test_a_missing_repository_is_one_line_pointing_at_make(tmp_path, capsys):
    assert main(["demo", "--model-repository", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"sketch2idol: error: model repository {tmp_path / 'nowhere'} not found — "
                   "run `make model-repository`")


def test_a_busy_gateway_port_is_one_line(exported_repository, capsys):
    repository, _ = exported_repository
    http_port, grpc_port, metrics_port = free_ports(3)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--model-repository", str(repository), "--port", str(port),
                     "--http-port", str(http_port), "--grpc-port", str(grpc_port),
                     "--metrics-port", str(metrics_port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"sketch2idol: error: gateway port 127.0.0.1:{port} is already in use"


def test_restart_delays_double_up_to_the_cap_and_reset_after_a_long_run():
    state = RestartState()
    delays = []
    for now in range(9):  # dies at once, every time
        state.came_up(float(now))
        delays.append(state.went_down(float(now)))
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert not state.due(8 + 29.9) and state.due(8 + 30)  # the last death was at 8
    state.came_up(1000.0)
    assert state.went_down(1000.0 + RESET_AFTER_S) == 1  # it had been up long enough
    assert state.went_down(2000.0) == 2
