"""Helpers for the Kubernetes tests: render an overlay, find objects, containers, flags.

kubectl is the machine's when it has kustomize built in, else the one `make k8s-tools`
installs into build/k8s-tools (with checkov, which needs a virtualenv of its own).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("cpu", "gpu")
TOOLS_BIN = REPO / "build" / "k8s-tools" / "bin"
NAMESPACE = "sketch2idol"


def _has_kustomize(kubectl: str) -> bool:
    try:
        return subprocess.run([kubectl, "kustomize", "--help"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def kubectl_binary() -> str:
    for candidate in (shutil.which("kubectl"), TOOLS_BIN / "kubectl"):
        if candidate and Path(candidate).exists() and _has_kustomize(str(candidate)):
            return str(candidate)
    pytest.fail("no kubectl with kustomize: run `make k8s-tools`")


def tool(name: str) -> Path:
    path = TOOLS_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make k8s-tools`")
    return path


@dataclass
class Rendered:
    """One overlay rendered: the YAML stream, where it was written, its objects."""

    overlay: str
    text: str
    path: Path
    docs: list[dict]

    def all(self, kind: str) -> list[dict]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [doc for doc in self.all(kind) if doc["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: expected one {kind} {name}, found {len(found)}"
        return found[0]

    def config_map(self, prefix: str) -> dict:
        """A generated ConfigMap by its name before kustomize's hash suffix."""
        found = [doc for doc in self.all("ConfigMap")
                 if doc["metadata"]["name"] == prefix
                 or doc["metadata"]["name"].rsplit("-", 1)[0] == prefix]
        assert len(found) == 1, f"{self.overlay}: expected one ConfigMap {prefix}(-hash)"
        return found[0]


def render(overlay: str, out_dir: Path) -> Rendered:
    result = subprocess.run([kubectl_binary(), "kustomize", str(K8S / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    path = out_dir / f"{overlay}.yaml"
    path.write_text(result.stdout)
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return Rendered(overlay, result.stdout, path, docs)


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload: dict, name: str, init: bool = False) -> dict:
    key = "initContainers" if init else "containers"
    found = [c for c in pod_spec(workload).get(key, []) if c["name"] == name]
    assert len(found) == 1, f"{workload['metadata']['name']} has no {key[:-1]} {name}"
    return found[0]


def port_number(container_spec: dict, name: str) -> int:
    for port in container_spec.get("ports", []):
        if port["name"] == name:
            return port["containerPort"]
    raise AssertionError(f"container {container_spec['name']} has no port named {name}")


def flag_values(args: list[str]) -> dict[str, str]:
    """`--name=value` arguments as {name: value} (each flag once)."""
    values = {}
    for arg in args:
        assert arg.startswith("--") and "=" in arg, f"expected --flag=value, got {arg!r}"
        name, value = arg[2:].split("=", 1)
        assert name not in values, f"--{name} given twice"
        values[name] = value
    return values


def env_value(container_spec: dict, name: str) -> dict:
    for entry in container_spec.get("env", []):
        if entry["name"] == name:
            return entry
    raise AssertionError(f"container {container_spec['name']} has no env {name}")
