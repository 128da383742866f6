"""Triton entry point of generator; the code lives in sketch2idol/serving/onnx_model.py."""

from sketch2idol.serving.onnx_model import TritonPythonModel

__all__ = ["TritonPythonModel"]
