"""Triton entry point of encoders; the code lives in sketch2idol/serving/onnx_model.py."""

from sketch2idol.serving.onnx_model import TritonPythonModel

__all__ = ["TritonPythonModel"]
