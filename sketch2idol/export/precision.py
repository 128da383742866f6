"""Lower-precision variants of an exported fp32 graph: int8 (CPU) and fp16 (GPU).

int8 is onnxruntime static quantization in QDQ form (per-channel int8 weights, uint8
activations, min/max calibration on real training inputs: sketches, and for the generator
refined sketches each in a look of the training distribution); onnxruntime fuses it into
int8 convolutions (VNNI on AVX-512 CPUs). The generator upsamples by nearest resize +
convolution (no ConvTranspose any more), so every one of its convolutions can be int8.
Two groups of layers stay fp32 (`float_layers`):

- the layers that touch pixels (`pixel_layers`: a 1-channel input or a <= 3-channel
  output, the first and last 7x7 convolutions): on the trained ConvTranspose generator,
  quantising them alone took the faces' SSIM against fp32 from 0.998 to 0.946. They are
  4% of the generator's MACs but ~17% of the int8 generator's kernel time (fp32 kernels
  are slow with 1 or 3 channels; benchmarks/bench_op_profile.py); benchmarks/bench_int8.py
  measures each choice again on new weights;
- the look path (`look_layers`: the nodes computed from APPEARANCE alone, the look MLP and
  the FiLM projections): a few hundred thousand MACs per face that set the scale and shift
  of whole feature maps, where int8 would save nothing and cost precision;
- in the generator, every convolution at full resolution (`full_resolution_layers`: with
  the pixel layers, the last upsampling convolution, 48 -> 24 channels at 256²). Measured
  one layer at a time (the look generator after 500 training steps, 12 held-out faces in
  12 looks): that convolution alone in int8 cost SSIM 0.016 against fp32, the next one up
  (at 128²) 0.005, every other one <= 0.002; all in int8 but the pixel and look layers:
  0.022, over DESIGN.md's 0.02 budget; with it in fp32 too: 0.008.

(ConvTranspose, which the old generator had, broke the faces when quantised with
onnxruntime 1.32: SSIM 0.67 per-tensor or per-channel.)

The encoders stay fp32 under int8 (`network_precision`): their features are searched for
neighbours and blended, so a small feature error can pick other neighbours and change the
face, not just shade it. With the weights d486bcb1b532, int8 encoders (calibrated on
detailed sketches, or on detailed and casual drawings alike) took the hand drawing
docs/drawings/ten_seconds.png's long hair back to a bob at t = 0.5 (hair below the jaw
0.209 -> 0.018; the int8 decoders alone kept it, 0.197). They are the smallest network of
the three: fp32 costs 0.6-1.5 ms per face at batch 8, ~2% of the chain (1.67 against
1.03 ms of 66 ms, then 2.98 against 1.44 ms of 83 ms on a slower run; BENCHMARKS.md,
"Model variants").

fp16 converts weights and activations, keeping the uint8 inputs/outputs and the fp32
APPEARANCE input; it is meant for the CUDA/TensorRT execution providers (see DESIGN.md:
instance norm is checked for fp16 error there).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from onnxruntime.transformers.float16 import convert_float_to_float16

from sketch2idol.core.contract import APPEARANCE, ENCODERS

QUANTIZED_OPS = ("Conv", "Gemm", "MatMul")
#: precision -> the networks that export leaves in fp32 under it (see the module's notes).
KEPT_FP32 = {"int8": (ENCODERS,)}
PIXEL_CHANNELS = 3  # a convolution with at most this many output channels makes pixels


class SampleReader(CalibrationDataReader):
    """Feeds calibration samples one at a time: {graph input name: its rows}, every input
    with the same number of rows (the generator: refined sketches and their looks)."""

    def __init__(self, samples: dict[str, np.ndarray]):
        counts = {len(rows) for rows in samples.values()}
        if len(counts) != 1:
            raise ValueError(f"calibration inputs disagree on the sample count: "
                             f"{ {name: len(rows) for name, rows in samples.items()} }")
        (count,) = counts
        self.batches = iter([{name: rows[i:i + 1] for name, rows in samples.items()}
                             for i in range(count)])

    def get_next(self) -> dict | None:
        return next(self.batches, None)


def network_precision(network: str, precision: str) -> str:
    """The precision `network` is exported in when the repository asks for `precision`."""
    return "fp32" if network in KEPT_FP32.get(precision, ()) else precision


def pixel_layers(model: onnx.ModelProto) -> list[str]:
    """Convolutions that read a 1-channel image or write <= 3 channels (kept fp32)."""
    weights = {init.name: init for init in model.graph.initializer}
    names = []
    for node in model.graph.node:
        if node.op_type != "Conv" or node.input[1] not in weights:
            continue
        out_channels, in_channels = numpy_helper.to_array(weights[node.input[1]]).shape[:2]
        if in_channels == 1 or out_channels <= PIXEL_CHANNELS:
            names.append(node.name)
    return names


def look_layers(model: onnx.ModelProto, look_input: str = APPEARANCE) -> list[str]:
    """Quantisable nodes computed from the look alone (the generator's look MLP and FiLM
    projections): a few hundred thousand MACs per face, all of them setting scales and
    shifts of whole feature maps, so int8 would save nothing and cost precision."""
    graph_inputs = {value.name for value in model.graph.input}
    if look_input not in graph_inputs:
        return []
    constants = {init.name for init in model.graph.initializer}
    # Which graph inputs each tensor depends on (nodes are topologically sorted in ONNX).
    depends: dict[str, set[str]] = {name: {name} for name in graph_inputs}
    names = []
    for node in model.graph.node:
        sources = set().union(*(depends.get(name, set()) for name in node.input
                                if name and name not in constants))
        for output in node.output:
            depends[output] = sources
        if node.op_type in QUANTIZED_OPS and sources == {look_input}:
            names.append(node.name)
    return names


def full_resolution_layers(model: onnx.ModelProto) -> list[str]:
    """Convolutions that write the largest feature maps of the graph (the generator: the
    first and last 7x7 convolutions, the last upsampling convolution and, where it has one,
    the palette head's two 1x1 convolutions, at 256²). Reads
    the shapes ONNX shape inference left in the graph (quant_pre_process runs it); none
    where they are unknown."""
    shapes = {value.name: [dim.dim_value for dim in value.type.tensor_type.shape.dim]
              for value in (*model.graph.value_info, *model.graph.output)}
    areas = {}
    for node in model.graph.node:
        dims = shapes.get(node.output[0], [])
        if node.op_type == "Conv" and len(dims) == 4 and dims[2] and dims[3]:
            areas[node.name] = dims[2] * dims[3]
    largest = max(areas.values(), default=0)
    return [name for name, area in areas.items() if area == largest]


def float_layers(model: onnx.ModelProto) -> list[str]:
    """The layers int8 export keeps in fp32: pixel_layers and look_layers, and in a graph
    that takes a look (the generator) its full_resolution_layers as well."""
    names = [*pixel_layers(model), *look_layers(model)]
    if APPEARANCE in {value.name for value in model.graph.input}:
        names += full_resolution_layers(model)
    return list(dict.fromkeys(names))


def quantize_int8(fp32_path: Path, int8_path: Path,
                  calibration: dict[str, np.ndarray] | np.ndarray,
                  keep_float: Callable[[onnx.ModelProto], list[str]] = float_layers,
                  op_types: tuple[str, ...] = QUANTIZED_OPS) -> Path:
    """Static QDQ int8 quantisation of fp32_path, calibrated on `calibration`: real inputs
    of this graph by input name (e.g. training sketches for the encoders; refined sketches
    and looks for the generator), or one array for a one-input graph. `keep_float` names
    the nodes left in fp32 (benchmarks/bench_int8.py compares choices)."""
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        # Symbolic shape inference cannot follow the decoders' dynamic-batch Reshape;
        # ONNX shape inference and the graph optimisation are enough here.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared))
        if not isinstance(calibration, dict):
            (graph_input,) = model.graph.input
            calibration = {graph_input.name: calibration}
        quantize_static(
            str(prepared), str(int8_path), SampleReader(calibration),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=list(op_types), nodes_to_exclude=keep_float(model),
            extra_options={"CalibMovingAverage": True})
    return Path(int8_path)


def convert_fp16(fp32_path: Path, fp16_path: Path) -> Path:
    model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    onnx.save(model, str(fp16_path))
    return Path(fp16_path)
