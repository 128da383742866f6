"""Procedural portrait illustrations: the project's embedded training faces.

`sample_face_params(rng)` draws a face's parameters (plain JSON data); `render_face(params,
size)` draws it, deterministically, with its landmarks on the geometry template and its
label map (labels.Label per pixel); `draw_casual(params, size, casual)` draws the same face
the way a person sketches it in ten seconds.

Modules: params (sampling), palette (colours), layout (landmark placement), shapes (curves),
canvas (supersampled drawing surface), head / hair / eyes / nose / mouth (the parts),
shading (lighting), render (the layer order), labels (the label map's classes), casual
(quick human-style drawings).
"""

from sketch2idol.core.data.faces.casual import draw_casual, sample_casual
from sketch2idol.core.data.faces.labels import Label
from sketch2idol.core.data.faces.params import sample_face_params
from sketch2idol.core.data.faces.render import RenderedFace, render_face

__all__ = ["Label", "RenderedFace", "draw_casual", "render_face", "sample_casual",
           "sample_face_params"]
