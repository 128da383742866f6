"""render_face: parameters -> portrait illustration and its landmarks.

Layers, back to front: background, hair behind the head, neck and clothes, ears, face,
nose, mouth, eyes, brows, front hair; then lighting at the output resolution. The canvas
is always drawn at the same supersampled resolution (so a 512 render downscaled matches
the 256 one), and nothing here reads any state but its arguments. Every part also records
its class of labels.Label, which gives the label map at the output resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketch2idol.core.data.faces import eyes as eye_parts
from sketch2idol.core.data.faces import hair as hair_parts
from sketch2idol.core.data.faces import head, mouth, nose, shading
from sketch2idol.core.data.faces.canvas import Canvas
from sketch2idol.core.data.faces.layout import Layout
from sketch2idol.core.geometry import check_size

#: The side of the supersampled canvas; every supported size divides it.
CANVAS_SIDE = 1024


@dataclass(frozen=True)
class RenderedFace:
    photo: np.ndarray  # uint8 RGB [size, size, 3]
    landmarks: dict[str, tuple[float, float]]  # geometry.LANDMARKS -> (x, y) pixels
    labels: np.ndarray  # uint8 [size, size] of labels.Label: the part each pixel shows


def render_face(params: dict, size: int) -> RenderedFace:
    """Draw the face described by `params` (see sample_face_params) at `size` x `size`."""
    check_size(size)
    layout = Layout.from_params(params)
    skin = np.asarray(params["skin"]["color"], dtype=np.float64)
    light_x = float(np.sin(np.radians(params["light"]["angle"])))
    face = head.face_shape(params["face"], layout)
    hair = hair_parts.hair_shape(params["hair"], params["face"], face, layout)

    canvas = Canvas(size, CANVAS_SIDE // size, params["background"]["colors"][0])
    hair_parts.draw_back(canvas, hair, params["hair"], params["clothes"]["accent"])
    head.draw_body(canvas, params["face"], params["clothes"], layout, skin)
    if params["face"]["ears"]:
        head.draw_ears(canvas, face, layout, skin)
    head.draw_face(canvas, face, skin)
    nose.draw_nose(canvas, params["nose"], layout, skin, light_x)
    mouth.draw_mouth(canvas, params["mouth"], layout, skin, light_x)
    eye_parts.draw_eyes(canvas, params["eyes"], layout, skin, light_x)
    eye_parts.draw_brows(canvas, params["brows"], params["eyes"], layout)
    hair_parts.draw_front(canvas, hair, params["hair"])

    rgb, coverage = canvas.resolve()
    photo = shading.shade(rgb, coverage, params, layout, face, hair, size)
    return RenderedFace(photo=photo, landmarks=layout.landmarks(size),
                        labels=canvas.resolve_labels())
