"""The `python-ort` runtime: one generic Triton Python-backend model running an ONNX graph.

encoders, decoders and generator are each this model with a different `model.onnx` in
their version directory (the generator's graph has two inputs, REFINED_SKETCH and
APPEARANCE). Triton's dynamic batcher hands `execute` several requests; each input is
concatenated over the requests and the graph runs in ONE onnxruntime call, and the output
is split back per request (serving/batching.py, shared with the projection model).
config.pbtxt parameters (written by sketch2idol/export/triton_config.py):

    onnx_file            graph file in the version directory (model.onnx)
    intra_op_threads     onnxruntime threads for this model (0 = onnxruntime decides)
    execution_providers  comma-separated, in preference order; unavailable ones are skipped

Before anything loads, the version directory's sha256 manifest is checked, so a corrupted
artifact keeps the model from loading with one log line naming the file. A request whose
floating-point input holds NaN or infinity, whose APPEARANCE row is not a look
(sketch2idol.core.looks.check_appearance: wrong length, NaN/infinity, a value outside
LOOK_RANGE), or whose inputs disagree on the batch gets its own INVALID_ARG error (the
graphs would turn it into a garbage image); the other requests of the batch still run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from sketch2idol.core.contract import APPEARANCE
from sketch2idol.core.looks import check_appearance
from sketch2idol.serving.batching import execute_batched
from sketch2idol.serving.integrity import verify_manifest
from sketch2idol.serving.parameters import model_parameters


class OnnxBatchRunner:
    """An onnxruntime session for a graph with one output (and one or more inputs, all on
    the same batch axis), tuned for sharing cores with the other models of the ensemble (no
    spinning worker threads)."""

    def __init__(self, path: Path, threads: int = 0,
                 providers: tuple[str, ...] = ("CPUExecutionProvider",)):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle onnxruntime threads spin by default; with four models' processes on two
        # cores that spinning steals the cores from whichever model has work.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Memory patterns are planned per input shape, and every batch size the dynamic
        # batcher forms is a new shape: the second run of each size reserves a second block
        # in the arena, which never shrinks. Off, the generator at batch 16 peaks at 0.75
        # instead of 1.3 GB, at the same speed (RELIABILITY.md, "Load and soak").
        options.enable_mem_pattern = False
        available = set(ort.get_available_providers())
        self.providers = [p for p in providers if p in available] or ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), options, providers=self.providers)
        (graph_output,) = self.session.get_outputs()
        self.input_names = tuple(graph_input.name for graph_input in self.session.get_inputs())
        self.output_name = graph_output.name

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """{input name: batch} -> the output batch."""
        return self.session.run([self.output_name], feeds)[0]


def appearance_error(array: np.ndarray) -> str | None:
    """Why a request's APPEARANCE rows are not looks (check_appearance's reason; the row is
    named when the request holds several), or None."""
    if array.ndim != 2:
        return check_appearance(array) or (f"{APPEARANCE} must be [batch, values], got shape "
                                           f"{array.shape}")
    for row, values in enumerate(array):
        if reason := check_appearance(values):
            return f"row {row}: {reason}" if len(array) > 1 else reason
    return None


def input_error(name: str, array: np.ndarray) -> str | None:
    """Why one request's input cannot be run, or None."""
    if name == APPEARANCE:
        return appearance_error(array)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        return f"{name} has {bad} NaN or infinite value(s); every value must be finite"
    return None


def request_error(arrays: dict[str, np.ndarray]) -> str | None:
    """Why one request (all its inputs) cannot be run, or None."""
    for name, array in arrays.items():
        if message := input_error(name, array):
            return message
    rows = {name: len(array) for name, array in arrays.items()}
    if len(set(rows.values())) > 1:
        return ("inputs disagree on the batch size: "
                + ", ".join(f"{name} has {count} row(s)" for name, count in rows.items()))
    return None


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        import triton_python_backend_utils as pb_utils

        self.pb_utils = pb_utils
        config = json.loads(args["model_config"])
        version_dir = Path(args["model_repository"]) / args["model_version"]
        verify_manifest(version_dir)
        parameters = model_parameters(config)
        providers = tuple(p for p in parameters.get("execution_providers", "").split(",") if p)
        self.runner = OnnxBatchRunner(version_dir / parameters.get("onnx_file", "model.onnx"),
                                      int(parameters.get("intra_op_threads", "0")),
                                      providers or ("CPUExecutionProvider",))
        inputs = tuple(tensor["name"] for tensor in config["input"])
        (model_output,) = config["output"]
        if (sorted(inputs), model_output["name"]) != (sorted(self.runner.input_names),
                                                      self.runner.output_name):
            raise ValueError(f"{args['model_name']}: config tensors {', '.join(inputs)} -> "
                             f"{model_output['name']} do not match the graph's "
                             f"{', '.join(self.runner.input_names)} -> "
                             f"{self.runner.output_name}")
        pb_utils.Logger.log_info(f"{args['model_name']}: onnxruntime {ort.__version__} on "
                                 f"{','.join(self.runner.providers)}")

    def execute(self, requests: list) -> list:
        """One response per request; the valid requests' rows go through ONE onnxruntime run."""
        output_name = self.runner.output_name
        return execute_batched(
            self.pb_utils, requests, self.runner.input_names, request_error,
            lambda batch: {output_name: self.runner.run(batch)},
            lambda error: f"onnxruntime failed: {error}")

    def finalize(self) -> None:
        self.runner = None
