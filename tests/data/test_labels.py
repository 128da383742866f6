"""The label map of a render: each class lies exactly where its colour shows in the photo.

Where a class is checked against the pixels, the pixels are found independently of the
renderer's labels: the face is rendered again with one colour parameter set to a probe
colour, and the pixels that changed are where that colour is visible.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest

from sketch2idol.core.data.faces import Label, render_face, sample_face_params
from sketch2idol.core.data.faces.canvas import majority_labels
from sketch2idol.core.data.faces.labels import LABEL_COLOURS, colourise


def params_for(seed: int) -> dict:
    return sample_face_params(np.random.default_rng(seed))


def probe_colour(rgb) -> list:
    """A saturated colour far from `rgb` (or from each of a list of colours)."""
    if isinstance(rgb[0], list):
        return [probe_colour(c) for c in rgb]
    return [0.0, 255.0, 0.0] if rgb[1] < 128 else [255.0, 0.0, 255.0]


def changed_pixels(params: dict, photo: np.ndarray, path: tuple[str, str]) -> np.ndarray:
    """Bool [S, S]: the pixels that change when the colour params[path] is probed."""
    probe = copy.deepcopy(params)
    probe[path[0]][path[1]] = probe_colour(params[path[0]][path[1]])
    after = render_face(probe, photo.shape[0]).photo.astype(np.int32)
    return np.abs(after - photo.astype(np.int32)).sum(axis=2) > 30


def near(mask: np.ndarray, pixels: int = 1) -> np.ndarray:
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


@pytest.fixture(scope="module")
def faces():
    return [(params, render_face(params, 256)) for params in map(params_for, range(40, 52))]


def test_label_map_shape_dtype_and_classes(faces):
    for _, face in faces:
        assert face.labels.shape == (256, 256) and face.labels.dtype == np.uint8
        assert face.labels.max() < len(Label)
        present = set(np.unique(face.labels).tolist())
        assert {Label.BACKGROUND, Label.FACE_SKIN, Label.HAIR, Label.CLOTHES, Label.EYE_WHITE,
                Label.IRIS, Label.LASHES, Label.BROWS, Label.LIPS} <= present
    assert LABEL_COLOURS.shape == (len(Label), 3)
    assert colourise(faces[0][1].labels).shape == (256, 256, 3)


# (colour parameter, classes it paints, share of the class's pixels that must show it,
# share of the changed pixels that must lie within 1 px of the class). Measured on these
# faces: every labelled pixel shows its colour (1.0) except the eye whites (0.82: the white
# highlights are labelled eye white but do not follow the sclera colour) and the lips (the
# mouth line and an open mouth's inside are MOUTH); changed pixels outside a class are its
# anti-aliased rim, within 1 px except where a stroke's thin tapered tip covers no pixel by
# more than half (brows 0.87, lashes 0.95).
_PROBES = [
    (("hair", "color"), [Label.HAIR], 0.99, 0.99),
    (("eyes", "iris_color"), [Label.IRIS], 0.99, 0.99),
    (("mouth", "lip_color"), [Label.LIPS], 0.97, None),
    (("mouth", "lip_color"), [Label.LIPS, Label.MOUTH], None, 0.95),
    (("clothes", "color"), [Label.CLOTHES], 0.99, 0.99),
    (("brows", "color"), [Label.BROWS], 0.99, 0.8),
    (("eyes", "sclera"), [Label.EYE_WHITE], 0.75, 0.99),
    (("eyes", "lash_color"), [Label.LASHES], 0.99, 0.9),
    (("background", "colors"), [Label.BACKGROUND], 0.99, 0.99),
]


@pytest.mark.parametrize("path,classes,shows,within", _PROBES,
                         ids=[f"{p[0][1]}-{len(p[1])}" for p in _PROBES])
def test_each_class_is_where_its_colour_shows(faces, path, classes, shows, within):
    for params, face in faces[:6]:
        changed = changed_pixels(params, face.photo, path)
        region = np.isin(face.labels, classes)
        assert region.sum() > 0
        if shows is not None:
            assert (changed & region).sum() / region.sum() >= shows, (path, classes)
        if within is not None:
            assert (changed & near(region)).sum() / changed.sum() >= within, (path, classes)


def shade_fit(mean: np.ndarray, colour) -> tuple[float, float]:
    """(k, residual): mean ~ k * colour; k is the shading, the residual what it misses."""
    c = np.asarray(colour, dtype=np.float64)
    k = float(mean @ c / (c @ c))
    return k, float(np.linalg.norm(mean - k * c))


# (class, colour parameter, shading range, largest residual in 0..255 RGB). Measured over
# 80 faces: hair k 0.80..1.02 (shading, the highlight band) residual <= 6.2; iris 0.66..1.14
# (its darker rim and pupil, the lighter lower part) <= 18.9; lips 0.78..0.95 <= 8.3;
# clothes 0.96..1.02 <= 5.2; face skin 0.94..0.99 <= 3.9.
_COLOURS = [
    (Label.HAIR, ("hair", "color"), (0.7, 1.1), 12.0),
    (Label.IRIS, ("eyes", "iris_color"), (0.55, 1.25), 28.0),
    (Label.LIPS, ("mouth", "lip_color"), (0.7, 1.05), 14.0),
    (Label.CLOTHES, ("clothes", "color"), (0.92, 1.06), 10.0),
    (Label.FACE_SKIN, ("skin", "color"), (0.85, 1.05), 8.0),
]


@pytest.mark.parametrize("label,path,shading,residual", _COLOURS,
                         ids=[c[0].name for c in _COLOURS])
def test_mean_photo_colour_in_a_class_is_its_parameter_colour(faces, label, path, shading,
                                                               residual):
    for params, face in faces:
        mean = face.photo[face.labels == label].astype(np.float64).mean(axis=0)
        k, miss = shade_fit(mean, params[path[0]][path[1]])
        assert shading[0] <= k <= shading[1] and miss <= residual, (label.name, k, miss)


def test_background_pixels_lie_on_the_background_gradient(faces):
    for params, face in faces:
        pixels = face.photo[face.labels == Label.BACKGROUND].astype(np.float64)
        first, second = np.asarray(params["background"]["colors"], dtype=np.float64)
        span = second - first
        t = np.clip((pixels - first) @ span / max(span @ span, 1e-6), 0.0, 1.0)
        off = np.linalg.norm(pixels - (first + t[:, None] * span), axis=1)
        assert off.mean() <= 5.0, off.mean()  # measured <= 2.8


def test_512_labels_agree_with_256_labels():
    params = params_for(60)
    small = render_face(params, 256).labels
    large = render_face(params, 512).labels
    assert (large[::2, ::2] == small).mean() > 0.97  # measured 0.985: edges differ


def test_majority_takes_the_most_covering_label_and_breaks_ties_low():
    supersampled = np.array([[3, 3, 5, 2],
                             [3, 7, 2, 5],
                             [1, 1, 6, 6],
                             [1, 1, 6, 0]], dtype=np.uint8)
    assert majority_labels(supersampled, 2).tolist() == [[3, 2], [1, 6]]
