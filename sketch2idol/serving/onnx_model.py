"""The `python-ort` runtime: one generic Triton Python-backend model running an ONNX graph.

encoders, decoders and generator are each this model with a different `model.onnx` in
their version directory. Triton's dynamic batcher hands `execute` several requests; their
inputs are concatenated and run through onnxruntime in ONE call, and the output is split
back per request. config.pbtxt parameters (written by export/triton_config.py):

    onnx_file            graph file in the version directory (model.onnx)
    intra_op_threads     onnxruntime threads for this model (0 = onnxruntime decides)
    execution_providers  comma-separated, in preference order; unavailable ones are skipped

Before anything loads, the version directory's sha256 manifest is checked, so a corrupted
artifact keeps the model from loading with one log line naming the file. A request whose
floating-point input holds NaN or infinity gets its own INVALID_ARG error (the graphs would
turn it into a garbage image); the other requests of the batch still run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from sketch2idol.serving.integrity import verify_manifest
from sketch2idol.serving.parameters import model_parameters


class OnnxBatchRunner:
    """An onnxruntime session for a one-input, one-output graph, tuned for sharing cores
    with the other models of the ensemble (no spinning worker threads)."""

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
        (graph_input,), (graph_output,) = self.session.get_inputs(), self.session.get_outputs()
        self.input_name, self.output_name = graph_input.name, graph_output.name

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: batch})[0]


def input_error(name: str, array: np.ndarray) -> str | None:
    """Why one request's input cannot be run, or None."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        return f"{name} has {bad} NaN or infinite value(s); every value must be finite"
    return None


def split_rows(output: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Cut a concatenated batch back into the requests' row counts."""
    return np.split(output, np.cumsum(sizes)[:-1])


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
        (model_input,), (model_output,) = config["input"], config["output"]
        if (model_input["name"], model_output["name"]) != (self.runner.input_name,
                                                           self.runner.output_name):
            raise ValueError(f"{args['model_name']}: config tensors {model_input['name']} -> "
                             f"{model_output['name']} do not match the graph's "
                             f"{self.runner.input_name} -> {self.runner.output_name}")
        pb_utils.Logger.log_info(f"{args['model_name']}: onnxruntime {ort.__version__} on "
                                 f"{','.join(self.runner.providers)}")

    def execute(self, requests: list) -> list:
        """One response per request; the valid requests' rows go through ONE onnxruntime run."""
        pb_utils = self.pb_utils
        name = self.runner.input_name
        responses: list = [None] * len(requests)
        good, inputs = [], []
        for position, request in enumerate(requests):
            array = pb_utils.get_input_tensor_by_name(request, name).as_numpy()
            if message := input_error(name, array):
                responses[position] = self._error_response(message, invalid_input=True)
            else:
                good.append(position)
                inputs.append(array)
        if not good:
            return responses
        try:
            output = self.runner.run(np.concatenate(inputs) if len(inputs) > 1 else inputs[0])
        except Exception as error:  # noqa: BLE001 - every request gets the reason, no crash
            for position in good:
                responses[position] = self._error_response(f"onnxruntime failed: {error}")
            return responses
        for position, rows in zip(good, split_rows(output, [len(array) for array in inputs])):
            responses[position] = pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor(self.runner.output_name, rows)])
        return responses

    def _error_response(self, message: str, invalid_input: bool = False):
        """An error response: INVALID_ARG (HTTP 400) for bad input, else INTERNAL (500)."""
        error_class = self.pb_utils.TritonError
        code = getattr(error_class, "INVALID_ARG" if invalid_input else "INTERNAL", None)
        arguments = (message,) if code is None else (message, code)
        return self.pb_utils.InferenceResponse(output_tensors=[], error=error_class(*arguments))

    def finalize(self) -> None:
        self.runner = None
