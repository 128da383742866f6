"""The manifests say what the code says: one source of truth, checked, not two lists.

- Triton's command line is the launcher's (sketch2idol/launch/tritonserver.py): same flags
  and values, the container ports are its ports, the probes use its readiness path.
- The gateway's command line parses with the real CLI, its port, probes and Ingress paths
  are the app's routes, its S2I_* variables are ones sketch2idol/gateway/settings.py reads.
- The init container's export parses with the real `sketch2idol export` and makes a valid
  DeploymentOptions for each overlay's runtime.
- Every model name in the autoscaling rule and the dashboard is sketch2idol.core.contract's;
  every gateway metric the dashboard plots is one the gateway registers.
- The shutdown timings nest: preStop > gRPC connection age, grace > preStop + drain.
"""

from __future__ import annotations

import inspect
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from k8s_manifests import (
    K8S,
    OVERLAYS,
    REPO,
    container,
    env_value,
    flag_values,
    pod_spec,
    port_number,
)

from sketch2idol.cli import build_parser
from sketch2idol.cli import gateway as gateway_command
from sketch2idol.cli.gateway import run_gateway
from sketch2idol.cli.repository import run_export
from sketch2idol.core import contract
from sketch2idol.export import PRECISIONS, RUNTIMES
from sketch2idol.export.triton_config import DeploymentOptions
from sketch2idol.gateway.app import create_app, route_paths
from sketch2idol.gateway.metrics import GatewayMetrics
from sketch2idol.gateway.settings import Settings
from sketch2idol.launch.tritonserver import TritonInstallation, TritonServer

#: Launcher flags a pod does without, and why.
LAUNCHER_ONLY = {
    "log-file": "in a pod Triton logs to stdout (kubectl logs)",
    "cache-directory": "the images keep Triton's default, /opt/tritonserver/caches",
}
#: Flags only the pod uses (see the comment on them in k8s/base/triton-deployment.yaml).
POD_ONLY = {"grpc-max-connection-age", "grpc-max-connection-age-grace"}
#: gRPC jitters the max connection age by up to +-10 %.
CONNECTION_AGE_JITTER = 1.1
MODELS_MOUNT = "/models"
REPOSITORY_PATH = "/models/releases/$(MODEL_RELEASE)/repository"
ADAPTER_VALUES = K8S / "prometheus-adapter" / "values.yaml"
DASHBOARD = K8S / "base" / "monitoring" / "grafana-dashboard.json"


def launcher_flags() -> dict[str, str]:
    """The flags `sketch2idol serve-triton` passes to tritonserver, with its defaults."""
    fake = TritonInstallation(server_binary=Path("/x/bin/tritonserver"),
                              python_backend_dir=Path("/x/backends/python"),
                              stub=Path("/x/stub"), libs_dir=Path("/x/libs"),
                              caches_dir=Path("/x/caches"))
    command = TritonServer(Path(MODELS_MOUNT), host="0.0.0.0").command(fake, Path("/x/backends"))
    return flag_values(command[1:])


def triton(rendered, overlay: str) -> dict:
    return rendered[overlay].get("Deployment", "triton")


def gateway(rendered, overlay: str) -> dict:
    return rendered[overlay].get("Deployment", "gateway")


def pre_stop_sleep(container_spec: dict) -> int:
    command = container_spec["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and len(command) == 2, command
    return int(command[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_triton_command_line_is_the_launchers(rendered, overlay):
    server = container(triton(rendered, overlay), "triton")
    assert server["command"] == ["tritonserver"]
    pod = flag_values(server["args"])
    launcher = launcher_flags()
    assert set(launcher) - set(pod) == set(LAUNCHER_ONLY)
    assert set(pod) - set(launcher) == POD_ONLY
    for flag in set(pod) & set(launcher) - {"model-repository", "backend-directory"}:
        assert pod[flag] == launcher[flag], f"--{flag}: pod {pod[flag]}, launcher {launcher[flag]}"
    assert pod["model-repository"] == REPOSITORY_PATH
    layout = (REPO / "docker" / "pytriton_layout.py").read_text()
    layout_root = re.search(r'else "(/[^"]+)"', layout).group(1)
    assert pod["backend-directory"] == f"{layout_root}/backends"

    # Ports: the launcher's defaults, the serve-triton CLI's, the container's, the Service's.
    defaults = inspect.signature(TritonServer.__init__).parameters
    cli = build_parser().parse_args(["serve-triton"])
    service = {p["name"]: p for p in rendered[overlay].get("Service", "triton")["spec"]["ports"]}
    for name in ("http", "grpc", "metrics"):
        number = defaults[f"{name}_port"].default
        assert int(pod[f"{name}-port"]) == number == getattr(cli, f"{name}_port")
        assert port_number(server, name) == number
        assert service[name]["port"] == number and service[name]["targetPort"] == name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_triton_probes_use_the_readiness_the_code_waits_for(rendered, overlay):
    server = container(triton(rendered, overlay), "triton")
    ready_path = re.search(r'(/v2/health/ready)', inspect.getsource(TritonServer.is_ready))[1]
    for probe in ("startupProbe", "readinessProbe"):
        assert server[probe]["httpGet"] == {"path": ready_path, "port": "http"}
    # Liveness is Triton's /live (true while models load); test_live_triton checks it answers.
    assert server["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    # Model loading gets minutes before the startup probe gives up.
    startup = server["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shutdown_timings_nest(rendered, overlay):
    spec = pod_spec(triton(rendered, overlay))
    server = container(triton(rendered, overlay), "triton")
    flags = flag_values(server["args"])
    sleep = pre_stop_sleep(server)
    age_s = int(flags["grpc-max-connection-age"]) / 1000
    # Every gateway has reconnected elsewhere before Triton gets SIGTERM ...
    assert sleep > age_s * CONNECTION_AGE_JITTER + 1
    # ... in-flight calls outlive the GOAWAY grace only past the gateway's deadline ...
    assert int(flags["grpc-max-connection-age-grace"]) / 1000 >= Settings().triton_deadline_s
    # ... and Triton drains within the pod's grace period.
    assert spec["terminationGracePeriodSeconds"] > sleep + int(flags["exit-timeout-secs"])

    front = container(gateway(rendered, overlay), "gateway")
    uvicorn_grace = int(re.search(r"timeout_graceful_shutdown=(\d+)",
                                  inspect.getsource(gateway_command))[1])
    assert pod_spec(gateway(rendered, overlay))["terminationGracePeriodSeconds"] > \
        pre_stop_sleep(front) + uvicorn_grace


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_command_line_routes_and_settings(rendered, overlay, monkeypatch):
    deployment = gateway(rendered, overlay)
    front = container(deployment, "gateway")
    assert front["command"] == ["sketch2idol"]
    args = build_parser().parse_args(front["args"])
    assert args.handler is run_gateway
    assert args.port == port_number(front, "http")
    assert args.port == build_parser().parse_args(["gateway"]).port  # the CLI's default
    host, port = args.triton_grpc.rsplit(":", 1)
    triton_service = rendered[overlay].get("Service", host)
    grpc = next(p for p in triton_service["spec"]["ports"] if p["name"] == "grpc")
    assert int(port) == grpc["port"] == int(Settings().triton_grpc.rsplit(":", 1)[1])

    routes = route_paths(create_app(Settings()))
    assert front["livenessProbe"]["httpGet"]["path"] in routes
    assert front["startupProbe"]["httpGet"]["path"] in routes
    assert front["readinessProbe"]["httpGet"]["path"] == "/readyz" and "/readyz" in routes
    ingress_paths = [path for rule in rendered[overlay].get("Ingress", "gateway")["spec"]["rules"]
                     for path in rule["http"]["paths"]]
    for path in ingress_paths:  # each exposes a real route, and no internal one
        if path["pathType"] == "Exact":
            assert path["path"] in routes
        else:
            assert any(route.startswith(path["path"]) for route in routes if route), path
    for internal in ("/metrics", "/healthz", "/readyz", "/docs"):
        assert not any(internal == p["path"] or (p["pathType"] == "Prefix" and p["path"] != "/"
                       and internal.startswith(p["path"])) for p in ingress_paths), internal
    monitor = rendered[overlay].get("ServiceMonitor", "gateway")
    assert monitor["spec"]["endpoints"][0]["path"] in routes

    # Every S2I_* variable is one Settings reads, and its value is accepted.
    readable = {Settings.variable(name) for name in Settings.model_fields}
    release = rendered[overlay].config_map("model-release")["data"]["MODEL_RELEASE"]
    for entry in front["env"]:
        if entry["name"].startswith("S2I_"):
            assert entry["name"] in readable, f"{entry['name']} is not read by Settings"
            monkeypatch.setenv(entry["name"],
                               entry["value"].replace("$(MODEL_RELEASE)", release))
    settings = Settings.from_env()
    assert str(settings.model_repository) == REPOSITORY_PATH.replace("$(MODEL_RELEASE)", release)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_release_exports_with_the_real_cli(rendered, overlay):
    release = rendered[overlay].config_map("model-release")["data"]
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", release["MODEL_RELEASE"])
    argv = ["export", "--weights", release["WEIGHTS"], "--out", "/tmp/x",
            "--runtime", release["EXPORT_RUNTIME"], *shlex.split(release["EXPORT_ARGS"])]
    args = build_parser().parse_args(argv)
    assert args.handler is run_export
    assert args.runtime in RUNTIMES and args.precision in PRECISIONS
    device = args.device or ("cpu" if args.runtime == "python-ort" else "gpu")
    DeploymentOptions(runtime=args.runtime, device=device)  # raises on a bad combination
    assert (args.runtime, device) == \
        {"cpu": ("python-ort", "cpu"), "gpu": ("tensorrt", "gpu")}[overlay]
    # The weights are where the images put them.
    for dockerfile in ("gateway.Dockerfile", "triton-gpu.Dockerfile"):
        text = (REPO / "docker" / dockerfile).read_text()
        assert f"COPY weights/default {release['WEIGHTS']}\n" in text, dockerfile
    init = container(triton(rendered, overlay), "publish-release", init=True)
    assert env_value(init, "MODELS_ROOT")["value"] == MODELS_MOUNT
    assert {m["mountPath"] for m in init["volumeMounts"]} >= {MODELS_MOUNT}


def promql_expressions() -> dict[str, str]:
    """Every PromQL expression in the adapter rule and the dashboard, by where it is."""
    values = yaml.safe_load(ADAPTER_VALUES.read_text())
    found = {}
    for i, rule in enumerate(values["rules"]["custom"]):
        found[f"adapter rule {i} seriesQuery"] = rule["seriesQuery"]
        found[f"adapter rule {i} metricsQuery"] = rule["metricsQuery"]
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            found[f"dashboard '{panel['title']}' {target['refId']}"] = target["expr"]
    return found


def test_model_names_are_the_contracts():
    composing = set(contract.COMPOSING_MODELS)
    seen = set()
    for where, expr in promql_expressions().items():
        for op, value in re.findall(r'model\s*(=~|!~|!=|=)\s*"([^"]*)"', expr):
            if op == "=":
                assert value in contract.MODEL_IO, f"{where}: unknown model {value!r}"
                seen.add(value)
            elif op == "=~":
                assert set(value.split("|")) == composing, \
                    f"{where}: {value!r} is not the composing models {sorted(composing)}"
                seen |= composing
            else:
                raise AssertionError(f"{where}: negative model matcher {op}{value!r}")
    assert seen == composing | {contract.ENSEMBLE}


def test_autoscaler_metric_is_the_adapters(rendered):
    rule = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"][0]
    series = re.match(r"[a-z_:]+", rule["seriesQuery"])[0]
    assert re.fullmatch(rule["name"]["matches"], series)
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}
    # The ensemble's own queue time stays ~0: the sum must be over the composing models.
    assert re.search(r'rate\(nv_inference_queue_duration_us\{<<\.LabelMatchers>>,model=~"',
                     rule["metricsQuery"])
    assert re.search(r'rate\(nv_inference_request_success\{<<\.LabelMatchers>>,'
                     rf'model="{contract.ENSEMBLE}"\}}', rule["metricsQuery"])
    for overlay in OVERLAYS:
        hpa = rendered[overlay].get("HorizontalPodAutoscaler", "triton")
        metrics = hpa["spec"]["metrics"]
        assert [m["pods"]["metric"]["name"] for m in metrics] == [rule["name"]["as"]]
        gateway_hpa = rendered[overlay].get("HorizontalPodAutoscaler", "gateway")
        assert [m["resource"]["name"] for m in gateway_hpa["spec"]["metrics"]] == ["cpu"]


def test_dashboard_plots_metrics_the_gateway_registers():
    registry = GatewayMetrics("triton:8001").registry
    suffixes = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",),
                "gauge": ("",)}
    registered = {family.name + suffix for family in registry.collect()
                  for suffix in suffixes[family.type]}
    used = {name for expr in promql_expressions().values()
            for name in re.findall(r"\b(sketch2idol_gateway_[a-z_]+)\b", expr)}
    assert used and used <= registered, used - registered
    routes = route_paths(create_app(Settings()))
    for expr in promql_expressions().values():
        for route in re.findall(r'route="([^"]+)"', expr):
            assert route in routes, route
