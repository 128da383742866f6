"""The real tritonserver from the nvidia-pytriton wheel, on free loopback ports.

Each test writes a tiny Python-backend model repository into its tmp dir. One server is shared
by the inference tests; the start-failure, stop and CLI tests start their own.
"""

import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as http_client

from sketch2idol.cli import main
from sketch2idol.launch.tritonserver import (
    TritonServer,
    TritonStartError,
    free_port,
    free_ports,
    locate_triton,
    prepare_backend_directory,
    startup_errors,
    triton_environment,
)

ADD_ONE_CONFIG = """
name: "{name}"
backend: "python"
max_batch_size: 8
dynamic_batching {{ max_queue_delay_microseconds: 100 }}
input [ {{ name: "x" data_type: TYPE_FP32 dims: [ 3 ] }} ]
output [
  {{ name: "plus_one" data_type: TYPE_FP32 dims: [ 3 ] }},
  {{ name: "total" data_type: TYPE_FP32 dims: [ 1 ] }}
]
instance_group [ {{ kind: KIND_CPU count: 1 }} ]
"""

# Imports sketch2idol to prove the stub runs in this virtualenv.
ADD_ONE_MODEL = """
import numpy as np
import triton_python_backend_utils as pb_utils

import sketch2idol  # noqa: F401


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "x").as_numpy()
            outputs = [pb_utils.Tensor("plus_one", (x + 1).astype(np.float32)),
                       pb_utils.Tensor("total", x.sum(axis=1, keepdims=True, dtype=np.float32))]
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses
"""

BROKEN_MODEL = """
class TritonPythonModel:
    def initialize(self, args):
        raise RuntimeError("weights are missing: /nowhere/generator.safetensors")

    def execute(self, requests):
        return []
"""


def write_model(repository: Path, name: str, model_py: str) -> None:
    (repository / name / "1").mkdir(parents=True)
    (repository / name / "config.pbtxt").write_text(ADD_ONE_CONFIG.format(name=name))
    (repository / name / "1" / "model.py").write_text(textwrap.dedent(model_py))


def server_on_free_ports(tmp: Path, repository: Path, **options) -> TritonServer:
    http_port, grpc_port, metrics_port = free_ports(3)
    defaults = {"http_port": http_port, "grpc_port": grpc_port, "metrics_port": metrics_port,
                "work_dir": tmp / "triton", "exit_timeout_s": 5, "ready_timeout_s": 60}
    return TritonServer(repository, **(defaults | options))


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group (zombies count as gone)."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert group_members(pid) == []


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shared")
    write_model(tmp / "repository", "add_one", ADD_ONE_MODEL)
    with server_on_free_ports(tmp, tmp / "repository") as running:
        yield running


def test_infers_over_http(server):
    assert server.alive() and server.is_ready()
    client = http_client.InferenceServerClient(server.http_address)
    batch = np.array([[0, 1, 2], [10, 20, 30]], dtype=np.float32)
    request = http_client.InferInput("x", list(batch.shape), "FP32")
    request.set_data_from_numpy(batch)
    result = client.infer("add_one", [request])
    np.testing.assert_array_equal(result.as_numpy("plus_one"), batch + 1)
    np.testing.assert_array_equal(result.as_numpy("total"), [[3], [60]])


def test_serves_metrics_on_loopback(server):
    with urllib.request.urlopen(server.metrics_url, timeout=5) as response:
        assert b"nv_inference_request_success" in response.read()
    assert server.http_url.startswith("http://127.0.0.1:")
    assert server.grpc_url == f"grpc://127.0.0.1:{server.ports['grpc']}"


def test_busy_port_is_refused_before_starting(tmp_path):
    (tmp_path / "repository").mkdir()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        busy = listener.getsockname()[1]
        server = server_on_free_ports(tmp_path, tmp_path / "repository", grpc_port=busy)
        with pytest.raises(TritonStartError, match=rf"^grpc port 127.0.0.1:{busy} is already "
                                                   "in use$"):
            server.start()
    assert server.pid is None


def test_model_failing_to_initialize_names_the_model_and_the_log(tmp_path):
    write_model(tmp_path / "repository", "broken", BROKEN_MODEL)
    server = server_on_free_ports(tmp_path, tmp_path / "repository")
    with pytest.raises(TritonStartError) as failure:
        server.start()
    message = str(failure.value)
    assert "\n" not in message
    assert "failed to load 'broken' version 1" in message
    assert "RuntimeError: weights are missing: /nowhere/generator.safetensors" in message
    assert message.endswith(f"(log: {server.log_file})")
    assert not server.alive()
    assert_gone(server.pid)


def test_stop_leaves_no_process_and_is_idempotent(tmp_path):
    write_model(tmp_path / "repository", "add_one", ADD_ONE_MODEL)
    write_model(tmp_path / "repository", "not_loaded", BROKEN_MODEL)
    server = server_on_free_ports(tmp_path, tmp_path / "repository",
                                  model_control_mode="explicit", load_models=["add_one"])
    with server:
        assert server.is_ready()
        assert len(group_members(server.pid)) >= 2  # tritonserver and the add_one stub
    assert server.stop() == 0
    assert not server.alive() and not server.is_ready()
    assert_gone(server.pid)


def test_backend_directory_is_assembled_idempotently(tmp_path):
    installation = locate_triton()
    first = prepare_backend_directory(installation, tmp_path)
    (first / "python" / "triton_python_backend_stub").unlink()  # a damaged directory is mended
    assert prepare_backend_directory(installation, tmp_path) == first
    python_dir = first / "python"
    assert sorted(path.name for path in python_dir.iterdir()) == [
        "libtriton_python.so", "triton_python_backend_stub", "triton_python_backend_utils.py"]
    assert (python_dir / "triton_python_backend_stub").resolve() == installation.stub.resolve()


def test_environment_puts_wheel_libraries_and_this_virtualenv_first():
    installation = locate_triton()
    env = triton_environment(installation, {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/opt/lib"})
    assert env["LD_LIBRARY_PATH"] == f"{installation.libs_dir}:/opt/lib"
    assert env["PATH"] == f"{Path(sys.prefix) / 'bin'}:/usr/bin"


def test_startup_errors_put_model_failures_first():
    log = "\n".join([
        'E1124 17:22:20.763235 28531 server.cc:241] "CudaDriverHelper has not been initialized."',
        'E1124 17:22:51.840756 28847 model_repository_manager.cc:1460] "Poll failed for model '
        "directory 'badcfg': failed to read text proto from /r/badcfg/config.pbtxt\"",
        'E1124 17:22:22.410599 28531 model_lifecycle.cc:642] "failed to load \'broken\' version 1:'
        ' Internal: RuntimeError: boom\\n\\nAt:\\n  /r/broken/1/model.py(3): initialize\\n"',
        "I1124 17:22:22.410614 28531 model_lifecycle.cc:777] \"failed to load 'broken'\"",
    ])
    console = "Error: Failed to initialize NVML\nerror: creating server: Internal - failed\n"
    assert startup_errors(log, console) == [
        "Poll failed for model directory 'badcfg': failed to read text proto from "
        "/r/badcfg/config.pbtxt",
        "failed to load 'broken' version 1: Internal: RuntimeError: boom",
        "error: creating server: Internal - failed",
    ]


def test_cli_missing_model_repository_is_one_line_exit_2(tmp_path, capsys):
    code = main(["serve-triton", "--model-repository", str(tmp_path / "nowhere"),
                 "--http-port", str(free_port()), "--log", str(tmp_path / "triton.log")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("sketch2idol: error: model repository ")
    assert err.rstrip().endswith("nowhere is not a directory")


def stdout_lines(process: subprocess.Popen) -> queue.Queue:
    """A queue that a thread fills with the process's stdout lines ("" at the end)."""
    lines = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    return lines


def next_line_with(lines: queue.Queue, text: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if text in line:
            return line
        if not line:
            break
    raise AssertionError(f"the command printed no line with {text!r}")


def test_cli_serves_until_sigterm(tmp_path):
    write_model(tmp_path / "repository", "add_one", ADD_ONE_MODEL)
    http_port, grpc_port, metrics_port = free_ports(3)
    process = subprocess.Popen(
        [sys.executable, "-m", "sketch2idol", "serve-triton",
         "--model-repository", str(tmp_path / "repository"), "--http-port", str(http_port),
         "--grpc-port", str(grpc_port), "--metrics-port", str(metrics_port),
         "--log", str(tmp_path / "triton" / "tritonserver.log")],
        stdout=subprocess.PIPE, text=True)
    try:
        lines = stdout_lines(process)
        ready = next_line_with(lines, "tritonserver ready", timeout_s=60)
        triton_pid = int(ready.split("(pid ")[1].split(")")[0])
        assert f"http://127.0.0.1:{http_port}" in next_line_with(lines, "HTTP", 5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()
    assert_gone(triton_pid)
