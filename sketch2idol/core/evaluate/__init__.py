"""Evaluation of a weights directory on held-out faces: `sketch2idol eval`."""
