"""The PromQL of the autoscaling rule and the dashboard parses, and the autoscaling metric
computes what it claims, checked with Prometheus's own `promtool` (Debian's `prometheus`
package, which `make system-deps` installs for the gateway's Prometheus test).

prometheus-adapter fills `<<.GroupBy>>` and `<<.LabelMatchers>>` in its metricsQuery; Grafana
fills `$namespace` and `$__rate_interval`. Both are substituted the way they would be.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import yaml
from test_consistency import ADAPTER_VALUES, promql_expressions

from sketch2idol.core import contract

INSTALL_WAIT_S = 300  # `make system-deps` may still be installing prometheus
NAMESPACE = "sketch2idol"


def promtool() -> str:
    deadline = time.monotonic() + INSTALL_WAIT_S
    while (found := shutil.which("promtool")) is None:
        if time.monotonic() > deadline:
            pytest.fail("no `promtool` (Debian package prometheus): run `make system-deps`")
        time.sleep(5)
    return found


def adapter(expr: str, group_by: str, matchers: str) -> str:
    return expr.replace("<<.GroupBy>>", group_by).replace("<<.LabelMatchers>>", matchers)


def adapter_query(group_by: str, matchers: str) -> str:
    rule = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["custom"][0]
    return adapter(rule["metricsQuery"], group_by, matchers)


def grafana(expr: str) -> str:
    return expr.replace("$__rate_interval", "1m").replace("$namespace", NAMESPACE)


def test_every_expression_parses(tmp_path):
    expressions = [adapter(grafana(expr), "pod", f'namespace="{NAMESPACE}",pod=~"triton-.*"')
                   for expr in promql_expressions().values()]
    rules = {"groups": [{"name": "sketch2idol-syntax", "rules": [
        {"record": f"sketch2idol:check_{i}", "expr": expr}
        for i, expr in enumerate(expressions)]}]}
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool(), "check", "rules", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


def series(metric: str, pod: str, model: str, per_minute: int) -> dict:
    labels = f'namespace="{NAMESPACE}",pod="{pod}",model="{model}"'
    return {"series": f"{metric}{{{labels}}}", "values": f"0+{per_minute}x10"}


def test_autoscaling_metric_is_composing_queue_time_per_ensemble_request(tmp_path):
    """Pod a: 1 ensemble request/s; its composing models queue 1, 2, 3, 4 ms per second
    between them -> 10,000 us per request. The ensemble's own queue counter and the
    composing models' request counters must not count. Pod b is idle -> 0, not NaN."""
    queue_us_per_minute = dict(zip(contract.COMPOSING_MODELS, (60_000, 120_000, 180_000,
                                                                240_000)))
    inputs = [series("nv_inference_queue_duration_us", "triton-a", model, value)
              for model, value in queue_us_per_minute.items()]
    inputs += [
        series("nv_inference_queue_duration_us", "triton-a", contract.ENSEMBLE, 6_000_000),
        series("nv_inference_request_success", "triton-a", contract.ENSEMBLE, 60),
        *(series("nv_inference_request_success", "triton-a", model, 600)
          for model in contract.COMPOSING_MODELS),
        series("nv_inference_queue_duration_us", "triton-b", contract.ENCODERS, 0),
        series("nv_inference_request_success", "triton-b", contract.ENSEMBLE, 0),
    ]
    test = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": inputs,
            "promql_expr_test": [{
                "expr": adapter_query("pod", f'namespace="{NAMESPACE}",pod=~"triton-a|triton-b"'),
                "eval_time": "5m",
                "exp_samples": [{"labels": '{pod="triton-a"}', "value": 10_000},
                                {"labels": '{pod="triton-b"}', "value": 0}],
            }],
        }],
    }
    path = tmp_path / "adapter_test.yaml"
    path.write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool(), "test", "rules", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
