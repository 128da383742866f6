"""k8s/base/scripts/publish-release.sh, the Triton pods' init container, run here with `sh`
and stand-ins for `sketch2idol export`, `python -m sketch2idol.export.tensorrt` and `nvidia-smi`
that
record their arguments: a release is exported once, published atomically (two pods racing
publish one copy), never rewritten, and a TensorRT release refuses a different GPU. The
export command line it runs parses with the real CLI.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from k8s_manifests import K8S

from sketch2idol.cli import build_parser
from sketch2idol.cli.repository import run_export

SCRIPT = K8S / "base" / "scripts" / "publish-release.sh"

FAKE_SKETCH2IDOL = """#!/bin/sh
echo "$*" >> "$FAKE_LOG"
sleep "${FAKE_EXPORT_SECONDS:-0}"
[ -z "${FAKE_EXPORT_FAILS:-}" ] || { echo "export failed" >&2; exit 3; }
out=""
while [ $# -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done
mkdir -p "$out/sketch2face/1"
echo 'name: "sketch2face"' > "$out/sketch2face/config.pbtxt"
"""
FAKE_PYTHON = """#!/bin/sh
echo "python $*" >> "$FAKE_LOG"
"""
FAKE_NVIDIA_SMI = """#!/bin/sh
echo "$FAKE_GPU"
"""


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bench(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    executable(bin_dir / "sketch2idol", FAKE_SKETCH2IDOL)
    executable(bin_dir / "python", FAKE_PYTHON)
    executable(bin_dir / "nvidia-smi", FAKE_NVIDIA_SMI)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "MODELS_ROOT": str(tmp_path / "models"),
           "MODEL_RELEASE": "r1", "WEIGHTS": "/opt/sketch2idol/weights/default",
           "EXPORT_RUNTIME": "python-ort", "EXPORT_ARGS": "--precision int8",
           "FAKE_LOG": str(tmp_path / "calls.log"), "HOSTNAME": "triton-abc"}
    return tmp_path, env


def start(env: dict, **overrides) -> subprocess.Popen:
    return subprocess.Popen(["sh", str(SCRIPT)], env={**env, **overrides}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def run(env: dict, **overrides) -> tuple[int, str]:
    process = start(env, **overrides)
    output, _ = process.communicate(timeout=60)
    return process.returncode, output


def calls(root: Path) -> list[str]:
    log = root / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_exports_once_and_publishes(bench):
    root, env = bench
    code, output = run(env)
    assert code == 0, output
    release = root / "models" / "releases" / "r1"
    assert (release / "repository" / "sketch2face" / "config.pbtxt").is_file()
    ready = dict(line.split("=", 1) for line in (release / "READY").read_text().splitlines())
    assert ready["release"] == "r1" and ready["runtime"] == "python-ort"
    assert list((root / "models" / "staging").iterdir()) == []
    # What it ran is a valid `sketch2idol export` command line.
    [export] = calls(root)
    args = build_parser().parse_args(export.split())
    assert args.handler is run_export
    assert (args.runtime, args.precision, str(args.weights)) == \
        ("python-ort", "int8", "/opt/sketch2idol/weights/default")
    assert args.out.parent.parent == root / "models" / "staging"

    code, output = run(env)  # the next pod: nothing to do
    assert code == 0 and "is published" in output
    assert len(calls(root)) == 1


def test_two_pods_racing_publish_one_copy(bench):
    root, env = bench
    first = start(env, HOSTNAME="triton-a", FAKE_EXPORT_SECONDS="1")
    second = start(env, HOSTNAME="triton-b", FAKE_EXPORT_SECONDS="1")
    outputs = [process.communicate(timeout=60)[0] for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert sum("published release r1" in out and "another" not in out for out in outputs) == 1
    assert sum("another pod published release r1 first" in out for out in outputs) == 1
    assert len(calls(root)) == 2
    assert list((root / "models" / "staging").iterdir()) == []
    assert [p.name for p in (root / "models" / "releases").iterdir()] == ["r1"]


def test_failed_export_publishes_nothing(bench):
    root, env = bench
    code, output = run(env, FAKE_EXPORT_FAILS="1")
    assert code != 0 and "export failed" in output
    assert not (root / "models" / "releases" / "r1").exists()
    assert list((root / "models" / "staging").iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", ".hidden", "a/b", "two words", "r1;rm"])
def test_release_name_is_one_path_component(bench, name):
    root, env = bench
    code, output = run(env, MODEL_RELEASE=name)
    assert code == 2 and "one path component" in output
    assert calls(root) == []


def test_directory_in_the_way_is_reported(bench):
    root, env = bench
    (root / "models" / "releases" / "r1" / "junk").mkdir(parents=True)
    code, output = run(env)
    assert code == 1 and "without READY is in the way" in output


def test_tensorrt_release_is_pinned_to_its_gpu(bench):
    root, env = bench
    trt = {"EXPORT_RUNTIME": "tensorrt", "EXPORT_ARGS": "--device gpu", "FAKE_GPU": "NVIDIA H100",
           "TRTEXEC": "/usr/local/bin/trtexec"}
    code, output = run(env, **trt)
    assert code == 0, output
    export, plans = calls(root)
    args = build_parser().parse_args(export.split())
    assert (args.runtime, args.device) == ("tensorrt", "gpu")
    assert plans.startswith("python -m sketch2idol.export.tensorrt --repository ") and \
        plans.endswith("--trtexec /usr/local/bin/trtexec")
    release = root / "models" / "releases" / "r1"
    assert (release / "GPU").read_text().strip() == "NVIDIA H100"

    assert run(env, **trt)[0] == 0  # same GPU model: reuse the plans
    code, output = run(env, **{**trt, "FAKE_GPU": "NVIDIA A10"})
    assert code == 1 and "built on 'NVIDIA H100'" in output and "'NVIDIA A10'" in output
