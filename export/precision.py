"""Lower-precision variants of an exported fp32 graph: int8 (CPU) and fp16 (GPU).

int8 is onnxruntime static quantization in QDQ form (per-channel int8 weights, uint8
activations, min/max calibration on real training sketches); onnxruntime fuses it into
int8 convolutions (VNNI on this CPU). Two groups of layers stay fp32, both by measurement
on the default generator (16 held-out faces, SSIM of the face against the fp32 graph):

- the layers that touch pixels (a 1-channel input or a <= 3-channel output): quantising
  the first and last convolutions alone took SSIM from 0.998 to 0.946;
- ConvTranspose: with onnxruntime 1.32 its quantised form broke the faces (SSIM 0.67
  per-tensor or per-channel), so the upsampling stays fp32.

fp16 converts weights and activations, keeping the uint8 inputs/outputs; it is meant for
the CUDA/TensorRT execution providers (see DESIGN.md: instance norm is checked for fp16
error there).
"""

from __future__ import annotations

import tempfile
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

QUANTIZED_OPS = ("Conv", "Gemm", "MatMul")
PIXEL_CHANNELS = 3  # a convolution with at most this many output channels makes pixels


class SampleReader(CalibrationDataReader):
    """Feeds calibration samples one at a time under the graph's input name."""

    def __init__(self, input_name: str, samples: np.ndarray):
        self.batches = iter([{input_name: samples[i:i + 1]} for i in range(len(samples))])

    def get_next(self) -> dict | None:
        return next(self.batches, None)


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


def quantize_int8(fp32_path: Path, int8_path: Path, calibration: np.ndarray) -> Path:
    """Static QDQ int8 quantisation of fp32_path, calibrated on `calibration` (real inputs
    of this graph, e.g. training sketches for the encoders)."""
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        # Symbolic shape inference cannot follow the decoders' dynamic-batch Reshape;
        # ONNX shape inference and the graph optimisation are enough here.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared))
        (graph_input,) = model.graph.input
        quantize_static(
            str(prepared), str(int8_path), SampleReader(graph_input.name, calibration),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_exclude=pixel_layers(model),
            extra_options={"CalibMovingAverage": True})
    return Path(int8_path)


def convert_fp16(fp32_path: Path, fp16_path: Path) -> Path:
    model = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    onnx.save(model, str(fp16_path))
    return Path(fp16_path)
