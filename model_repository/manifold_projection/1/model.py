"""Triton entry point of manifold_projection; the code lives in sketch2idol/serving/projection_model.py."""

from sketch2idol.serving.projection_model import TritonPythonModel

__all__ = ["TritonPythonModel"]
