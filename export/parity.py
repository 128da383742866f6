"""Does an exported graph compute what the PyTorch reference computes?

Tolerances (the export contract): float outputs within 1e-3 absolute; uint8 images within
1 grey level on at least 99% of pixels (rounding at .5 may flip between runtimes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from export.samples import ChainSamples
from sketch2idol import contract

FLOAT_TOLERANCE = 1e-3
PIXEL_TOLERANCE = 1
PIXEL_FRACTION = 0.99


class ParityError(RuntimeError):
    """An exported graph disagrees with the reference beyond the tolerances."""


@dataclass(frozen=True)
class Parity:
    model: str
    output: str
    max_abs: float  # largest absolute difference (grey levels for images)
    within: float  # fraction of values within tolerance
    passed: bool

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return (f"{self.model}: {self.output} max |diff| {self.max_abs:.3g}, "
                f"{100 * self.within:.2f}% within tolerance -> {verdict}")

    def as_dict(self) -> dict:
        return asdict(self)


def compare(model: str, output: str, actual: np.ndarray, expected: np.ndarray) -> Parity:
    if actual.shape != expected.shape or actual.dtype != expected.dtype:
        raise ParityError(f"{model}: {output} is {actual.dtype}{list(actual.shape)}, the "
                          f"reference {expected.dtype}{list(expected.shape)}")
    difference = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    if expected.dtype == np.uint8:
        within = float(np.mean(difference <= PIXEL_TOLERANCE))
        passed = within >= PIXEL_FRACTION
    else:
        within = float(np.mean(difference <= FLOAT_TOLERANCE))
        passed = within == 1.0
    return Parity(model, output, float(difference.max(initial=0.0)), within, passed)


def onnx_session(path: Path, threads: int = 0,
                 providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=list(providers))


def run_onnx(session: ort.InferenceSession, inputs: np.ndarray) -> np.ndarray:
    (graph_input,), (graph_output,) = session.get_inputs(), session.get_outputs()
    return session.run([graph_output.name], {graph_input.name: inputs})[0]


def check_parity(model: str, path: Path, samples: ChainSamples) -> Parity:
    """Run the ONNX file on the reference inputs of `model` and compare with the reference."""
    (input_name,), (output_name,) = contract.MODEL_IO[model]
    actual = run_onnx(onnx_session(path), samples[input_name])
    return compare(model, output_name, actual, samples[output_name])
