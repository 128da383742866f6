"""Where each served network spends its time: onnxruntime's own profile, by operator kind.

    .venv/bin/python -m benchmarks.bench_op_profile [--profile quick|full] [--threads 2]

For each network in fp32 and int8 (the ONNX files bench_variants exports, as `sketch2idol
export` makes them), batch 1, 2 threads: onnxruntime's profiler (kernel time of every node
after its graph optimisations, summed per operator kind over the timed runs) and the MACs of
each convolution kind counted from the graph before optimisation (shape inference at batch
1). Together they say which operators hold the time and how fast each kind runs
(MACs x 2 / its kernel time) — why a network reaches the share of the CPU roof it does.
Operator kinds after optimisation: "Conv" also covers onnxruntime's fused NCHWc
convolutions (with their activation); the int8 graphs run QLinearConv for the quantised
layers and keep Conv in fp32 for the layers left unquantised.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

from benchmarks.bench_variants import onnx_files
from benchmarks.common import PROFILES, Run, heldout
from sketch2idol.core.pipeline import Pipeline
from sketch2idol.core.weights import DEFAULT_WEIGHTS, load_weights
from sketch2idol.export.graphs import network_graphs
from sketch2idol.export.samples import reference_chain

#: operator kind -> index of its weight input (MACs are counted for these kinds).
WEIGHT_INPUT = {"Conv": 1, "ConvTranspose": 1, "QLinearConv": 3}
TOP_KINDS = 8


def tensor_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Every tensor's static shape with the batch fixed to 1 (onnxruntime's symbolic shape
    inference: it folds the computed pads of the reflection padding, which ONNX's does not;
    ONNX's where it gives up)."""
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1
    try:
        inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception:  # noqa: BLE001 - it asserts on some reshapes; ONNX's own then
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {init.name: list(init.dims) for init in inferred.graph.initializer}
    for value in (*inferred.graph.input, *inferred.graph.output, *inferred.graph.value_info):
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = [d.dim_value for d in dims]
    return shapes


def conv_macs(model: onnx.ModelProto) -> dict[str, float]:
    """Operator kind -> multiply-accumulates per image (Conv, ConvTranspose, QLinearConv)."""
    shapes = tensor_shapes(onnx.ModelProto.FromString(model.SerializeToString()))
    producer = {output: node.op_type for node in model.graph.node for output in node.output}
    macs: collections.Counter = collections.Counter()
    for node in model.graph.node:
        if node.op_type not in WEIGHT_INPUT:
            continue
        weight = shapes.get(node.input[WEIGHT_INPUT[node.op_type]])
        kind = node.op_type
        if kind == "Conv" and {producer.get(node.input[0]), producer.get(node.input[1])} == {
                "DequantizeLinear"}:
            kind = "QLinearConv"  # a QDQ convolution: onnxruntime runs it as QLinearConv
        if kind == "ConvTranspose":  # every input pixel scatters a kernel
            source = shapes.get(node.input[0])
            if weight and source:
                macs[kind] += np.prod(source[1:]) * np.prod(weight[1:])
        else:  # every output value gathers Cin/group x kernel
            output = shapes.get(node.output[0])
            if weight and output:
                macs[kind] += np.prod(output[1:]) * np.prod(weight[1:])
    return {kind: float(value) for kind, value in macs.items()}


def kernel_times(path: Path, inputs: dict[str, np.ndarray], threads: int, repeats: int
                 ) -> tuple[dict[str, float], float]:
    """(operator kind -> kernel ms per run, wall ms per run) from onnxruntime's profiler."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory() as folder:
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for _ in range(1 + repeats):
            session.run(None, inputs)
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
    timed = runs[1:]  # the first run is a warm-up
    start = timed[0]["ts"] if timed else 0
    per_kind: collections.Counter = collections.Counter()
    for event in events:
        if (event.get("cat") == "Node" and event["name"].endswith("_kernel_time")
                and event["ts"] >= start):
            per_kind[event["args"]["op_name"]] += event["dur"] / 1000 / max(len(timed), 1)
    wall = float(np.median([run["dur"] / 1000 for run in timed])) if timed else 0.0
    return dict(per_kind), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=PROFILES, default="quick")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, help="profiled runs (quick 10, full 30)")
    args = parser.parse_args()
    repeats = args.repeats or (10 if args.profile == "quick" else 30)
    run = Run("bench_op_profile", args.profile)
    weights = load_weights(args.weights)
    pipeline = Pipeline(weights)
    files = onnx_files(args.weights, weights, pipeline)
    sketches, _ = heldout(1, weights.size)
    chain = reference_chain(pipeline, sketches, (0.5,)).tensors
    networks = {}
    for name, graph in network_graphs(weights).items():
        for precision in ("fp32", "int8"):
            path = files[precision][name]
            macs = conv_macs(onnx.load(str(path)))
            run.quiet()
            kinds, wall = kernel_times(path, {name: chain[name] for name in graph.input_names},
                                       args.threads, repeats)
            total = sum(kinds.values())
            rows = []
            for kind, ms in sorted(kinds.items(), key=lambda item: -item[1]):
                kind_macs = macs.get(kind, 0.0)
                rows.append(run.add(network=name, precision=precision, op=kind,
                                    ms=round(ms, 3), share=round(ms / total, 4),
                                    gmacs=round(kind_macs / 1e9, 4),
                                    gops=round(2 * kind_macs / ms / 1e6, 1) if kind_macs else None))
            networks[f"{name}/{precision}"] = {
                "network": name, "precision": precision, "wall_ms": round(wall, 2),
                "kernel_ms": round(total, 2), "gmacs": round(sum(macs.values()) / 1e9, 3),
                "ops": rows[:TOP_KINDS]}
            top = ", ".join(f"{r['op']} {r['share']:.0%}" for r in rows[:4])
            print(f"{name:<10} {precision}: {wall:7.2f} ms/run; {top}", flush=True)
    run.write({"threads": args.threads, "batch": 1, "repeats": repeats, "networks": networks})


if __name__ == "__main__":
    main()
