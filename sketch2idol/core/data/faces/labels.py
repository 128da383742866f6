"""The label map's classes: which part of the face each pixel of a render shows.

`render_face(...).labels` is a uint8 [S, S] map of these values, made alongside the photo:
every filled shape records its label on the supersampled canvas, and each output pixel
takes the label that covers most of it. A class covers exactly the pixels where its colour
is visible (line art counts with the region it outlines), so the mean photo colour inside
a class is its parameter colour apart from shading, e.g. IRIS ~ params.eyes.iris_color.
Data sets store the map as labels/<id>.png (grey values 0..13, not meant for viewing;
`colourise` makes a picture of it).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Label(IntEnum):
    BACKGROUND = 0
    FACE_SKIN = 1  # the face, its outline, crease and the stroke under the lower lip
    BODY_SKIN = 2  # neck, chest and ears
    HAIR = 3  # front and back hair, with its outlines and strands
    CLOTHES = 4
    ACCENT = 5  # the clothes' accent colour: collar flaps, hair ties
    EYE_WHITE = 6  # the sclera, the lid's shadow on it, the white highlights
    IRIS = 7  # iris and pupil
    LASHES = 8  # upper lid line, lashes, lower lid line
    BROWS = 9
    LIPS = 10  # both lips, in params.mouth.lip_color (the upper one shaded)
    MOUTH = 11  # the line between the lips; an open mouth's inside, teeth and tongue
    NOSE = 12  # the nose's lines and shadow


#: RGB per class for pictures of a label map (index = class value).
LABEL_COLOURS = np.array([
    (255, 255, 255),  # BACKGROUND
    (244, 204, 170),  # FACE_SKIN
    (200, 150, 110),  # BODY_SKIN
    (120, 70, 30),  # HAIR
    (70, 110, 200),  # CLOTHES
    (240, 200, 40),  # ACCENT
    (190, 235, 255),  # EYE_WHITE
    (20, 170, 90),  # IRIS
    (20, 20, 20),  # LASHES
    (150, 40, 160),  # BROWS
    (230, 40, 70),  # LIPS
    (110, 0, 20),  # MOUTH
    (255, 120, 0),  # NOSE
], dtype=np.uint8)


def colourise(labels: np.ndarray) -> np.ndarray:
    """uint8 label map [H, W] -> uint8 RGB picture [H, W, 3]."""
    return LABEL_COLOURS[np.minimum(labels, len(LABEL_COLOURS) - 1)]


#: look field -> the label classes whose colour it sets (what colour adherence measures and
#: the region colour loss of stage 2 matches).
FIELD_REGIONS = {"hair": (Label.HAIR,), "skin": (Label.FACE_SKIN,), "eyes": (Label.IRIS,),
                 "lips": (Label.LIPS,), "clothes": (Label.CLOTHES,),
                 "background": (Label.BACKGROUND,)}
#: look field (contract.LOOK_FIELDS order) -> the label classes painted in that field's
#: colour apart from shading: what the generator's palette head learns to choose. Both
#: background colours share the background (its gradient blends them).
PAINTED_REGIONS = {"hair": (Label.HAIR,), "skin": (Label.FACE_SKIN, Label.BODY_SKIN),
                   "eyes": (Label.IRIS,), "lips": (Label.LIPS,), "clothes": (Label.CLOTHES,),
                   "background": (Label.BACKGROUND,), "background2": (Label.BACKGROUND,)}
#: Regions painted flat apart from soft shading: noise there is texture the face should lack.
FLAT_REGIONS = (Label.FACE_SKIN, Label.BACKGROUND)
#: The face's small parts, drawn with lines: what the eye and mouth windows' edges are made of.
PART_REGIONS = (Label.EYE_WHITE, Label.IRIS, Label.LASHES, Label.BROWS, Label.LIPS, Label.MOUTH,
                Label.NOSE)


def region_masks(labels: np.ndarray, regions) -> np.ndarray:
    """uint8 label map [H, W] -> float32 [len(regions), H, W], 1 inside each region (a
    region is a tuple of classes)."""
    return np.stack([np.isin(labels, [int(c) for c in classes]) for classes in regions]
                    ).astype(np.float32)
