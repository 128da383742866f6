"""Both overlays render, and every name one object uses to find another resolves."""

from __future__ import annotations

from collections import Counter

import pytest
from k8s_manifests import NAMESPACE, OVERLAYS, container, pod_spec

EXPECTED_KINDS = Counter({
    "Namespace": 1, "ServiceAccount": 2, "PersistentVolumeClaim": 1, "ConfigMap": 3,
    "Deployment": 2, "Service": 2, "Ingress": 1, "NetworkPolicy": 3,
    "HorizontalPodAutoscaler": 2, "PodDisruptionBudget": 2, "ServiceMonitor": 2,
})


def matches(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_object_into_the_namespace(rendered, overlay):
    objects = rendered[overlay]
    assert Counter(doc["kind"] for doc in objects.docs) == EXPECTED_KINDS
    for doc in objects.docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in objects.docs]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_references_resolve(rendered, overlay):
    objects = rendered[overlay]
    config_maps = {doc["metadata"]["name"] for doc in objects.all("ConfigMap")}
    claims = {doc["metadata"]["name"] for doc in objects.all("PersistentVolumeClaim")}
    accounts = {doc["metadata"]["name"] for doc in objects.all("ServiceAccount")}
    deployments = {doc["metadata"]["name"]: doc for doc in objects.all("Deployment")}
    pods = {name: doc["spec"]["template"]["metadata"]["labels"]
            for name, doc in deployments.items()}

    for name, deployment in deployments.items():
        assert matches(deployment["spec"]["selector"], pods[name])
        spec = pod_spec(deployment)
        assert spec["serviceAccountName"] in accounts
        for volume in spec["volumes"]:
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, volume
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, volume
        volume_names = {volume["name"] for volume in spec["volumes"]}
        for each in spec.get("initContainers", []) + spec["containers"]:
            for mount in each.get("volumeMounts", []):
                assert mount["name"] in volume_names, (name, each["name"], mount)
            for source in each.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for entry in each.get("env", []):
                if "valueFrom" in entry:
                    ref = entry["valueFrom"]["configMapKeyRef"]
                    assert ref["name"] in config_maps, entry
                    cm = next(d for d in objects.all("ConfigMap")
                              if d["metadata"]["name"] == ref["name"])
                    assert ref["key"] in cm["data"], entry

    services = {doc["metadata"]["name"]: doc for doc in objects.all("Service")}
    for name, service in services.items():
        selected = [d for d, labels in pods.items()
                    if matches({"matchLabels": service["spec"]["selector"]}, labels)]
        assert selected == [name], f"Service {name} selects {selected}"
        target = deployments[name]
        container_ports = {p["name"] for c in pod_spec(target)["containers"]
                           for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports, (name, port)

    for hpa in objects.all("HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    for pdb in objects.all("PodDisruptionBudget"):
        assert [d for d, labels in pods.items() if matches(pdb["spec"]["selector"], labels)] \
            == [pdb["metadata"]["name"]]
    for monitor in objects.all("ServiceMonitor"):
        selected = [s for s, doc in services.items()
                    if matches(monitor["spec"]["selector"], doc["metadata"]["labels"])]
        assert len(selected) == 1, monitor["metadata"]["name"]
        port_names = {p["name"] for p in services[selected[0]]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in port_names
    for ingress in objects.all("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["port"]["name"] in \
                    {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
    for policy in objects.all("NetworkPolicy"):
        targets = [d for d, labels in pods.items()
                   if not policy["spec"]["podSelector"]
                   or matches(policy["spec"]["podSelector"], labels)]
        assert targets, f"NetworkPolicy {policy['metadata']['name']} selects no pod"
        for rule in policy["spec"].get("ingress", []):
            for port in rule["ports"]:
                for target in targets:
                    assert port["port"] in {p["name"] for c in pod_spec(deployments[target])
                                            ["containers"] for p in c.get("ports", [])}


def test_only_the_gateway_is_exposed(rendered):
    for objects in rendered.values():
        for service in objects.all("Service"):
            assert service["spec"]["type"] == "ClusterIP"
        backends = {path["backend"]["service"]["name"]
                    for ingress in objects.all("Ingress") for rule in ingress["spec"]["rules"]
                    for path in rule["http"]["paths"]}
        assert backends == {"gateway"}
        # Triton's gRPC port admits the gateway's pods and nothing else.
        triton_policy = objects.get("NetworkPolicy", "triton")
        grpc_rules = [rule for rule in triton_policy["spec"]["ingress"]
                      if any(port["port"] == "grpc" for port in rule["ports"])]
        assert [rule["from"] for rule in grpc_rules] == [[{"podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "sketch2idol", "app.kubernetes.io/component": "gateway"}}}]]
        deny = objects.get("NetworkPolicy", "default-deny-ingress")
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_gpu_overlay_takes_a_gpu_and_the_cpu_overlay_none(rendered):
    def gpus(objects, init: bool):
        triton = objects.get("Deployment", "triton")
        name = "publish-release" if init else "triton"
        return container(triton, name, init)["resources"]["limits"].get("nvidia.com/gpu")

    assert gpus(rendered["gpu"], init=False) == 1
    assert gpus(rendered["gpu"], init=True) == 1  # the TensorRT plans are built on it
    assert gpus(rendered["cpu"], init=False) is None
    assert "nvidia.com/gpu" not in rendered["cpu"].text.replace("nvidia.com/gpu.product", "")
    images = {overlay: container(rendered[overlay].get("Deployment", "triton"), "triton")["image"]
              for overlay in OVERLAYS}
    gateway_images = {overlay: container(rendered[overlay].get("Deployment", "gateway"),
                                         "gateway")["image"] for overlay in OVERLAYS}
    assert images["cpu"] == gateway_images["cpu"] == gateway_images["gpu"]  # one CPU image
    assert images["gpu"] != images["cpu"]
    for overlay in OVERLAYS:
        release = rendered[overlay].config_map("model-release")["data"]
        assert release["EXPORT_RUNTIME"] == {"cpu": "python-ort", "gpu": "tensorrt"}[overlay]
    gpu_spec = pod_spec(rendered["gpu"].get("Deployment", "triton"))
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} \
        in gpu_spec["tolerations"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(rendered, overlay):
    for deployment in rendered[overlay].all("Deployment"):
        spec = pod_spec(deployment)
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] >= 10000
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for each in spec.get("initContainers", []) + spec["containers"]:
            context = each["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert {"cpu", "memory"} <= set(each["resources"]["limits"])
            assert {"cpu", "memory"} <= set(each["resources"]["requests"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_triton_rolls_without_losing_capacity(rendered, overlay):
    objects = rendered[overlay]
    triton = objects.get("Deployment", "triton")
    assert triton["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert "replicas" not in triton["spec"]  # the HPA owns it; `kubectl apply` must not reset it
    assert objects.get("HorizontalPodAutoscaler", "triton")["spec"]["minReplicas"] >= 2
    spec = pod_spec(triton)
    shm = next(v for v in spec["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    server = container(triton, "triton")
    mounts = {m["mountPath"]: m for m in server["volumeMounts"]}
    assert mounts["/dev/shm"]["name"] == "dshm"
    assert mounts["/models"]["readOnly"] is True  # published releases are never modified
