"""Triton entry point of manifold_projection; code: sketch2idol/serving/projection_model.py."""

from sketch2idol.serving.projection_model import TritonPythonModel

__all__ = ["TritonPythonModel"]
