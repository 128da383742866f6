"""The Triton container's command line, as rendered, runs the real Triton here.

The image's build step (docker/pytriton_layout.py) lays the nvidia-pytriton wheel's server
out under a temporary /opt/tritonserver; then `tritonserver` is started with the cpu
overlay's arguments verbatim, except the model repository (the session's exported one, in
place of the volume) and the ports (free ones, as other tests run beside it). Its probes'
paths must answer 200, one sketch2face request must go through, and every Triton series the
autoscaling rule and the dashboard query must be on the metrics endpoint, labelled with the
contract's model names. (nv_gpu_* series exist only on a GPU; not checked here.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import tritonclient.http as httpclient
from k8s_manifests import REPO, container, flag_values
from test_consistency import promql_expressions

from sketch2idol.core import contract
from sketch2idol.launch.tritonserver import free_ports

READY_TIMEOUT_S = 180
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def status(url: str) -> int:
    try:
        with _DIRECT.open(url, timeout=2) as response:
            return response.status
    except OSError:
        return 0


@pytest.fixture(scope="module")
def pod_triton(rendered, exported_repository, tmp_path_factory):
    repository, report = exported_repository
    root = tmp_path_factory.mktemp("opt-tritonserver")
    subprocess.run([sys.executable, str(REPO / "docker" / "pytriton_layout.py"), str(root)],
                   check=True, capture_output=True, timeout=60)
    server = container(rendered["cpu"].get("Deployment", "triton"), "triton")
    flags = flag_values(server["args"])
    http, grpc, metrics = free_ports(3)
    flags.update({"model-repository": str(repository), "backend-directory": f"{root}/backends",
                  "http-port": str(http), "grpc-port": str(grpc), "metrics-port": str(metrics)})
    # The image's PATH: /opt/tritonserver/bin first, then the virtualenv.
    env = {**os.environ, "PATH": os.pathsep.join([str(root / "bin"), os.path.dirname(
        sys.executable), os.environ["PATH"]])}
    log = (tmp_path_factory.mktemp("pod-triton-log") / "triton.log").open("w")
    process = subprocess.Popen([*server["command"], *(f"--{k}={v}" for k, v in flags.items())],
                               env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    ports = {"http": http, "grpc": grpc, "metrics": metrics}
    try:
        # What the kubelet does: the startup probe's path until 200.
        base = f"http://127.0.0.1:{ports[server['startupProbe']['httpGet']['port']]}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while status(base + server["startupProbe"]["httpGet"]["path"]) != 200:
            assert process.poll() is None, "tritonserver exited while starting"
            assert time.monotonic() < deadline, "tritonserver was not ready in time"
            time.sleep(0.5)
        face = infer_once(ports["http"], report)
        yield process, server, flags, ports, face
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


def infer_once(http_port: int, report: dict) -> np.ndarray:
    """One sketch2face request, its inputs built from the contract's tensor specs (a white
    sketch, t = 0.5 and a mid-grey look), after checking that the served ensemble takes
    exactly those inputs (APPEARANCE included)."""
    spec = contract.model_specs(report["options"]["size"],
                                report["options"]["k"])[contract.ENSEMBLE]
    client = httpclient.InferenceServerClient(f"127.0.0.1:{http_port}")
    served = client.get_model_metadata(contract.ENSEMBLE)["inputs"]
    assert [(i["name"], i["datatype"], i["shape"][1:]) for i in served] == \
        [(t.name, t.datatype, list(t.dims)) for t in spec.inputs]
    inputs = []
    for tensor in spec.inputs:
        value = np.full((1, *tensor.dims), 255 if tensor.name == contract.SKETCH else 0.5,
                        dtype=tensor.numpy_dtype)
        inputs.append(httpclient.InferInput(tensor.name, list(value.shape), tensor.datatype))
        inputs[-1].set_data_from_numpy(value)
    return client.infer(contract.ENSEMBLE, inputs).as_numpy(contract.FACE)


def test_probe_paths_answer_and_a_request_goes_through(pod_triton):
    process, server, flags, ports, face = pod_triton
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = server[probe]["httpGet"]
        assert status(f"http://127.0.0.1:{ports[get['port']]}{get['path']}") == 200, probe
    assert face.shape[0] == 1 and face.shape[-1] == 3


def test_every_queried_triton_series_exists(pod_triton):
    process, server, flags, ports, _ = pod_triton
    assert process.poll() is None
    with _DIRECT.open(f"http://127.0.0.1:{ports['metrics']}/metrics", timeout=5) as response:
        text = response.read().decode()
    exposed = set(re.findall(r'^(nv_[a-z_]+)\{model="([^"]+)"', text, flags=re.MULTILINE))
    queried = set()
    for where, expr in promql_expressions().items():
        for metric in set(re.findall(r"\b(nv_inference_[a-z_]+)\b", expr)):
            models = [value for _, value in re.findall(r'model\s*(=~|=)\s*"([^"]+)"', expr)]
            for model in ("|".join(models).split("|") if models else contract.MODEL_IO):
                queried.add((metric, model))
        assert set(re.findall(r"\b(nv_(?!inference_)[a-z_]+)\b", expr)) <= \
            {"nv_gpu_utilization", "nv_gpu_memory_used_bytes"}, where
    assert queried and queried <= exposed, sorted(queried - exposed)


def test_sigterm_drains_and_exits_in_time(pod_triton):
    """Last in this module: it stops the server."""
    process, server, flags, ports, _ = pod_triton
    assert process.poll() is None
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=int(flags["exit-timeout-secs"]) + 15)
    assert code == 0
    assert time.monotonic() - started < int(flags["exit-timeout-secs"])
