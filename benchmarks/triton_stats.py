"""Per-model server statistics over a time window, from Triton's statistics API.

    before = snapshot(client)          # tritonclient.http.InferenceServerClient
    ...  load  ...
    per_model = window(before, snapshot(client))

For every model: requests served, executions (batches run), the average batch size
(requests / executions), and queue and compute time per request in ms. For the ensemble
Triton reports the sum over its steps; the composing models say where the time went.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

COMPUTE = ("compute_input", "compute_infer", "compute_output")


def snapshot(client) -> dict[str, dict[str, float]]:
    stats = client.get_inference_statistics()["model_stats"]
    result = {}
    for model in stats:
        inference = model["inference_stats"]
        result[model["name"]] = {
            "requests": inference["success"]["count"],
            "executions": model.get("execution_count", 0),
            "inferences": model.get("inference_count", 0),
            "queue_ns": inference["queue"]["ns"],
            "compute_ns": sum(inference[key]["ns"] for key in COMPUTE),
        }
    return result


def window(before: dict, after: dict) -> dict[str, dict[str, float]]:
    """Per model, what happened between two snapshots (models with no requests left out)."""
    result = {}
    for name, end in after.items():
        start = before.get(name, dict.fromkeys(end, 0))
        requests = end["requests"] - start["requests"]
        if requests <= 0:
            continue
        executions = end["executions"] - start["executions"]
        inferences = end["inferences"] - start["inferences"]
        result[name] = {
            "requests": requests,
            "avg_batch": round(inferences / executions, 2) if executions else None,
            "queue_ms": round((end["queue_ns"] - start["queue_ns"]) / requests / 1e6, 2),
            "compute_ms": round((end["compute_ns"] - start["compute_ns"]) / requests / 1e6, 2),
        }
    return result


def variant_repository(source: Path, target: Path, overrides: dict[str, dict]) -> Path:
    """A copy of a model repository (hard links for the version-directory artifacts, real
    copies of everything else) with config changes.

    overrides: model -> {"instances": n, "delay_us": n, "threads": n, "max_batch": n}.
    """
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, copy_function=_link_or_copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for model, changes in overrides.items():
        path = target / model / "config.pbtxt"
        config = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
        if "instances" in changes:
            config.instance_group[0].count = int(changes["instances"])
        if "delay_us" in changes:
            config.dynamic_batching.max_queue_delay_microseconds = int(changes["delay_us"])
        if "max_batch" in changes:
            config.max_batch_size = int(changes["max_batch"])
        if "threads" in changes:
            key = "search_threads" if model == "manifold_projection" else "intra_op_threads"
            config.parameters[key].string_value = str(changes["threads"])
        path.unlink()  # a copy, never a link into the source repository
        path.write_text(text_format.MessageToString(config))
    return target


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link the big version-directory artifacts; copy everything else (configs are
    edited afterwards and must not write through a link into the source repository)."""
    if Path(source).name == "config.pbtxt" or not Path(source).parent.name.isdigit():
        shutil.copy2(source, target)
        return
    try:
        Path(target).hardlink_to(source)
    except OSError:
        shutil.copy2(source, target)


def parse_overrides(spec: str) -> dict[str, dict]:
    """'generator.instances=2,generator.threads=1,*.delay_us=5000' -> overrides
    (`*` = every composing model)."""
    from sketch2idol.core import contract

    overrides: dict[str, dict] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, _, value = part.partition("=")
        model, _, knob = key.partition(".")
        models = contract.COMPOSING_MODELS if model == "*" else (model,)
        for name in models:
            overrides.setdefault(name, {})[knob] = int(value)
    return overrides
