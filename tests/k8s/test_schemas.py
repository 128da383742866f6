"""Every rendered object validates against the Kubernetes 1.32 schema (strict: no unknown
fields), from kubernetes-validate. The Prometheus operator's ServiceMonitor is not in it;
it is checked against `SERVICE_MONITOR` below instead, a subset schema written from the
operator's monitoring.coreos.com/v1 API reference for the fields these manifests use
(the operator's own CRD is not vendored here). Any field outside that subset fails, so a new
one gets looked up in the reference and added, not waved through.
"""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest
from k8s_manifests import OVERLAYS

KUBERNETES_VERSION = "1.32.0"

DURATION = (r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
            r"(([0-9]+)ms)?)$")
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LABEL_SELECTOR = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {"type": "array", "items": {
            "type": "object", "required": ["key", "operator"], "additionalProperties": False,
            "properties": {"key": {"type": "string"},
                           "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                           "values": {"type": "array", "items": {"type": "string"}}}}},
    },
}
SERVICE_MONITOR = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                           "labels": STRING_MAP, "annotations": STRING_MAP}},
        "spec": {
            "type": "object", "required": ["selector"], "additionalProperties": False,
            "properties": {
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"any": {"type": "boolean"},
                                   "matchNames": {"type": "array",
                                                  "items": {"type": "string"}}}},
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "endpoints": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"},
                        "targetPort": {"type": ["integer", "string"]},
                        "path": {"type": "string"},
                        "scheme": {"enum": ["http", "https"]},
                        "interval": {"type": "string", "pattern": DURATION},
                        "scrapeTimeout": {"type": "string", "pattern": DURATION},
                        "honorLabels": {"type": "boolean"},
                        "honorTimestamps": {"type": "boolean"},
                    }}},
            },
        },
    },
}
#: Kinds that are custom resources, with the schema they are checked against.
CUSTOM_RESOURCES = {("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates(rendered, overlay):
    problems = []
    for doc in rendered[overlay].docs:
        what = f"{doc['kind']} {doc['metadata']['name']}"
        custom = CUSTOM_RESOURCES.get((doc["apiVersion"], doc["kind"]))
        try:
            if custom is not None:
                jsonschema.validate(doc, custom)
            else:
                used = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
                assert used == "1.32", f"{what} validated against {used}, not 1.32"
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{what}: no Kubernetes {KUBERNETES_VERSION} schema for "
                            f"{doc['apiVersion']} (a CRD? add its schema to CUSTOM_RESOURCES)")
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as error:
            problems.append(f"{what}: {error.message} at {list(error.absolute_path)}")
    assert not problems, "\n".join(problems)


def test_validation_catches_mistakes():
    """The validators do reject what a typo produces (strict: unknown fields too)."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                  "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                      "metadata": {"labels": {"a": "b"}},
                      "spec": {"containers": [{"name": "x", "image": "x",
                                               "livenessprobe": {}}]}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
               "metadata": {"name": "x"},
               "spec": {"selector": {}, "endpoints": [{"port": "m", "interval": "15 s"}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, SERVICE_MONITOR)
