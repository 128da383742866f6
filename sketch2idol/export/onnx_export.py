"""torch module -> checked ONNX file with a dynamic batch axis.

Uses the TorchScript exporter at opset 17: the component windows are Python constants in
the training code, and tracing folds them into static Slice/Pad nodes. (torch 2.13's
default dynamo exporter produced equally correct graphs in our trial but is slower and
leaves the exported module unusable for the parity check that follows.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch

from sketch2idol.export.graphs import NetworkGraph

OPSET = 17
BATCH_AXIS = "batch"


def export_onnx(graph: NetworkGraph, path: Path, opset: int = OPSET) -> Path:
    """Write graph.module as ONNX (inputs/output named by the contract, every one with the
    same dynamic batch axis) and check it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = (*graph.input_names, graph.output.name)
    with warnings.catch_warnings(), torch.no_grad():
        # Tracer notes about the constant windows and the legacy-exporter notice.
        warnings.simplefilter("ignore")
        torch.onnx.export(graph.module, graph.example(), str(path),
                          input_names=list(graph.input_names), output_names=[names[-1]],
                          dynamic_axes={name: {0: BATCH_AXIS} for name in names},
                          opset_version=opset, dynamo=False)
    model = onnx.load(str(path))
    consumed = {name for node in model.graph.node for name in node.input}
    unused = [name for name in graph.input_names if name not in consumed]
    if unused:  # the tracer folded an input into constants: the graph would ignore it
        raise ValueError(f"{graph.name}: the exported graph does not read {', '.join(unused)}")
    declare_shapes(model, graph)
    onnx.save(model, str(path))
    check_onnx(path)
    return path


def declare_shapes(model: onnx.ModelProto, graph: NetworkGraph) -> None:
    """Set the graph's input/output shapes to [batch, *contract dims]. The tracer's own
    guesses for outputs are symbolic and can be wrong (it named a face's height "batch")."""
    names = [value.name for value in model.graph.input]
    if names != list(graph.input_names):
        raise ValueError(f"{graph.name}: the exported graph's inputs are {names}, the "
                         f"contract's {list(graph.input_names)}")
    for value, spec in (*zip(model.graph.input, graph.inputs),
                        (model.graph.output[0], graph.output)):
        dims = value.type.tensor_type.shape.dim
        del dims[:]
        dims.add().dim_param = BATCH_AXIS
        for size in spec.dims:
            dims.add().dim_value = size


def check_onnx(path: Path) -> onnx.ModelProto:
    """onnx.checker with full shape inference; raises onnx.checker.ValidationError."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    return model
