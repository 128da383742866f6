"""Does an exported graph compute what the PyTorch reference computes?

Tolerances (the export contract): float outputs within 1e-3 absolute; uint8 images within
1 grey level on at least 99% of pixels (rounding at .5 may flip between runtimes).

The generator is checked on the parity set's refined sketches, each in its own look
(sketch2idol/export/samples.sample_looks), and its look path once more on a look probe (a copy whose
FiLM layers respond to the look, sketch2idol/export/graphs.look_probe): weights that ignore the look
(an untrained generator) would otherwise pass a graph that dropped APPEARANCE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from sketch2idol.core import contract
from sketch2idol.export.graphs import generator_graph, look_probe
from sketch2idol.export.onnx_export import export_onnx
from sketch2idol.export.samples import ChainSamples

#: Faces of one sketch in two different looks must differ by more than this (mean grey
#: levels) for the look probe to show anything.
PROBE_MIN_CHANGE = 2.0

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


def run_onnx(session: ort.InferenceSession, inputs: dict[str, np.ndarray] | np.ndarray
             ) -> np.ndarray:
    """The graph's one output for `inputs`: {input name: array}, or an array for a graph
    with one input."""
    (graph_output,) = session.get_outputs()
    if not isinstance(inputs, dict):
        (graph_input,) = session.get_inputs()
        inputs = {graph_input.name: inputs}
    return session.run([graph_output.name], inputs)[0]


def check_parity(model: str, path: Path, samples: ChainSamples) -> Parity:
    """Run the ONNX file on the reference inputs of `model` (for the generator: the refined
    sketches and their looks) and compare with the reference output."""
    (output_name,) = contract.MODEL_IO[model][1]
    actual = run_onnx(onnx_session(path), samples.inputs(model))
    return compare(model, output_name, actual, samples[output_name])


def check_look_path(generator, size: int, samples: ChainSamples, directory: Path) -> Parity:
    """Export a look probe of `generator` (ONNX into `directory`) and compare it with the
    probe in PyTorch on the parity set's refined sketches and looks. Raises ParityError if
    the probe's own faces do not change with the look (nothing would be shown)."""
    graph = generator_graph(look_probe(generator), size)
    inputs = samples.inputs(contract.GENERATOR)
    refined, looks = inputs[contract.REFINED_SKETCH], inputs[contract.APPEARANCE]
    if len(looks) < 2 or (looks == looks[:1]).all():
        raise ParityError("the look probe needs a parity set with at least two looks")
    expected = graph(refined, looks).numpy()
    swapped = graph(refined[:1], looks[1:2]).numpy()  # the first sketch in the second look
    change = float(np.abs(swapped.astype(np.float64) - expected[:1]).mean())
    if change < PROBE_MIN_CHANGE:
        raise ParityError(f"the look probe's faces change by {change:.2f} grey levels "
                          "between two looks: the probe shows nothing")
    path = export_onnx(graph, Path(directory) / "look_probe.onnx")
    (output_name,) = contract.MODEL_IO[contract.GENERATOR][1]
    actual = run_onnx(onnx_session(path), inputs)
    return compare(f"{contract.GENERATOR} (look probe)", output_name, actual, expected)
