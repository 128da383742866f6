"""Procedural portrait illustrations: the project's embedded training faces.

`sample_face_params(rng)` draws a face's parameters (plain JSON data); `render_face(params,
size)` draws it, deterministically, with its landmarks on the geometry template.

Modules: params (sampling), palette (colours), layout (landmark placement), shapes (curves),
canvas (supersampled drawing surface), head / hair / eyes / nose / mouth (the parts),
shading (lighting), render (the layer order).
"""

from sketch2idol.data.faces.params import sample_face_params
from sketch2idol.data.faces.render import RenderedFace, render_face

__all__ = ["RenderedFace", "render_face", "sample_face_params"]
