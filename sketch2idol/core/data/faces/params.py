"""Sampling the parameters of one procedural face.

`sample_face_params` draws every component (pose jitter, face shape, skin, hair, eyes,
brows, nose, mouth, lighting, clothes, background) independently, so combinations vary.
All lengths are fractions of the image side; colours are RGB floats in 0..255; angles
are in degrees. The result is plain JSON data, and with the `seed` of the hair it holds
everything the renderer needs.
"""

from __future__ import annotations

import numpy as np

from sketch2idol.core.data.faces import palette

PARAMS_VERSION = 1

# Jitter of the landmarks around the template, in fractions of the image side. Each is a
# bound: values are drawn from a normal distribution and clipped to it.
MAX_SHIFT = 0.012  # the whole face, in x and in y
MAX_EYE_SPACING = 0.008  # the distance between the eye centres
MAX_EYE_HEIGHT = 0.006  # the eye line, relative to the rest of the face
MAX_NOSE_HEIGHT = 0.006
MAX_MOUTH_HEIGHT = 0.008
#: The furthest any landmark can be from its template position, per axis.
MAX_LANDMARK_OFFSET = MAX_SHIFT + max(MAX_EYE_SPACING / 2 + MAX_EYE_HEIGHT, MAX_NOSE_HEIGHT,
                                      MAX_MOUTH_HEIGHT)

FACE_SHAPES = ("oval", "round", "vline", "square")
HAIR_STYLES = ("long", "medium", "bob", "short", "ponytail", "twintails")
FRINGES = ("blunt", "clumps", "swept", "curtain", "open")
EYE_SHAPES = ("round", "almond", "droopy", "sharp", "narrow")
BROW_SHAPES = ("straight", "arched", "angled", "soft")
NOSE_STYLES = ("wedge", "line", "hook", "shadow", "nostrils")
MOUTH_SHAPES = ("closed", "smile", "open", "pout")
NECKLINES = ("crew", "v", "collar", "turtleneck", "scoop")
BACKGROUNDS = ("flat", "vertical", "diagonal", "radial")


def _u(rng: np.random.Generator, lo: float, hi: float, digits: int = 4) -> float:
    return round(float(rng.uniform(lo, hi)), digits)


def _jitter(rng: np.random.Generator, bound: float) -> float:
    """Normal with sd bound/2, clipped to +-bound."""
    return round(float(np.clip(rng.normal(0.0, bound / 2), -bound, bound)), 5)


def _choice(rng: np.random.Generator, options, weights=None) -> str:
    p = None if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    return str(options[rng.choice(len(options), p=p)])


def _pose(rng):
    return {
        "shift": [_jitter(rng, MAX_SHIFT), _jitter(rng, MAX_SHIFT)],
        "eye_spacing": _jitter(rng, MAX_EYE_SPACING),
        "eye_height": _jitter(rng, MAX_EYE_HEIGHT),
        "nose_height": _jitter(rng, MAX_NOSE_HEIGHT),
        "mouth_height": _jitter(rng, MAX_MOUTH_HEIGHT),
    }


# Per face shape: ranges of (cheek half-width, jaw half-width, jaw corner height below
# the eyes, chin height below the eyes, chin half-width).
_FACE_RANGES = {
    "oval": ((0.252, 0.27), (0.195, 0.215), (0.22, 0.25), (0.375, 0.4), (0.03, 0.05)),
    "round": ((0.262, 0.282), (0.222, 0.242), (0.2, 0.23), (0.36, 0.38), (0.05, 0.07)),
    "vline": ((0.248, 0.264), (0.18, 0.2), (0.2, 0.23), (0.385, 0.415), (0.012, 0.028)),
    "square": ((0.258, 0.276), (0.232, 0.252), (0.25, 0.28), (0.37, 0.39), (0.06, 0.08)),
}


def _face(rng):
    shape = _choice(rng, FACE_SHAPES)
    cheek, jaw, jaw_y, chin_y, chin_w = (_u(rng, lo, hi) for lo, hi in _FACE_RANGES[shape])
    return {"shape": shape, "cheek": cheek, "temple": round(cheek + _u(rng, -0.012, 0.004), 4),
            "jaw": jaw, "jaw_y": jaw_y, "chin_y": chin_y, "chin_width": chin_w,
            "neck": _u(rng, 0.07, 0.095), "ears": bool(rng.random() < 0.8)}


def _skin(rng):
    tone = float(rng.beta(1.3, 1.7))
    rgb = palette.jitter(rng, palette.skin_tone(tone), 5)
    blush = palette.mix(rgb, (240, 110, 120), 0.55)
    return {
        "tone": round(tone, 4),
        "color": palette.as_list(rgb),
        "shadow_tint": palette.as_list([255, _u(rng, 206, 228), _u(rng, 200, 236)]),
        "blush": _u(rng, 0.0, 0.55) if rng.random() < 0.8 else 0.0,
        "blush_color": palette.as_list(blush),
    }


def _hair(rng):
    style = _choice(rng, HAIR_STYLES, (3, 2, 2, 1.5, 1.5, 1))
    fringe = _choice(rng, FRINGES, (2, 3, 2, 1.5, 1))
    name, rgb = palette.pick(rng, palette.HAIR)
    rgb = palette.jitter(rng, rgb, 10)
    lock = {"long": (0.42, 0.56), "medium": (0.3, 0.42), "bob": (0.22, 0.32),
            "short": (-0.02, 0.06), "ponytail": (0.1, 0.36), "twintails": (0.14, 0.34)}[style]
    return {
        "style": style,
        "fringe": fringe,
        "color_name": name,
        "color": palette.as_list(rgb),
        "highlight": palette.as_list(palette.mix(rgb, (255, 250, 245), _u(rng, 0.25, 0.5))),
        "sheen": _u(rng, 0.0, 1.0),
        "volume": _u(rng, 0.01, 0.065),
        "roundness": _u(rng, 2.0, 3.2),  # superellipse exponent of the silhouette
        "crown": _u(rng, 0.33, 0.37),  # head top above the eyes, before volume
        "part": _u(rng, -0.07, 0.07),
        "lock_length": _u(rng, *lock),
        "flare": _u(rng, 0.0, 0.09),
        "fringe_depth": _u(rng, 0.075, 0.11),  # fringe tips above the eye line
        "clumps": int(rng.integers(4, 8)),
        "strands": int(rng.integers(2, 6)),
        "ahoge": bool(rng.random() < 0.2),
        "spikes": int(rng.integers(2, 7)) if rng.random() < 0.35 else 0,
        "seed": int(rng.integers(0, 2**31 - 1)),
    }


# Per eye shape: (opening height / width, lid peak towards the outer corner, tilt range).
_EYE_SHAPES = {
    "round": ((0.62, 0.78), (0.0, 0.1), (-3.0, 4.0)),
    "almond": ((0.48, 0.6), (0.05, 0.2), (0.0, 7.0)),
    "droopy": ((0.5, 0.66), (-0.1, 0.05), (-9.0, -3.0)),
    "sharp": ((0.42, 0.54), (0.15, 0.3), (6.0, 13.0)),
    "narrow": ((0.34, 0.44), (0.0, 0.15), (-2.0, 5.0)),
}


def _eyes(rng, hair):
    shape = _choice(rng, EYE_SHAPES, (3, 3, 2, 2, 1))
    openness, peak, tilt = _EYE_SHAPES[shape]
    _, iris = palette.pick(rng, palette.IRIS)
    lash = palette.mix((30, 22, 24), hair["color"], _u(rng, 0.0, 0.35))
    return {
        "shape": shape,
        "width": _u(rng, 0.115, 0.145),
        "openness": _u(rng, *openness),
        "peak": _u(rng, *peak),
        "tilt": _u(rng, *tilt, digits=2),
        "iris_color": palette.as_list(palette.jitter(rng, iris, 12)),
        "iris_size": _u(rng, 0.46, 0.58),  # iris diameter / eye width
        "pupil_size": _u(rng, 0.3, 0.55),
        "gaze": [_u(rng, -0.08, 0.08), _u(rng, -0.04, 0.04)],  # iris offset / eye width
        "lash_width": _u(rng, 0.0075, 0.0135),
        "lash_color": palette.as_list(lash),
        "lashes": int(rng.integers(0, 4)),
        "lower_lid": _u(rng, 0.0, 1.0),
        "crease": bool(rng.random() < 0.55),
        "highlight": _u(rng, 0.18, 0.32),
        "sclera": palette.as_list(palette.jitter(rng, (250, 248, 250), 4)),
    }


def _brows(rng, hair):
    dark = 0.55 if palette.luminance(hair["color"]) < 0.6 else 0.72
    rgb = palette.mix(palette.shade(hair["color"], dark), (50, 36, 30), _u(rng, 0.1, 0.4))
    return {
        "shape": _choice(rng, BROW_SHAPES),
        "thickness": _u(rng, 0.006, 0.0135),
        "length": _u(rng, 0.095, 0.135),
        "height": _u(rng, 0.058, 0.082),  # above the eye centre
        "angle": _u(rng, -10.0, 12.0, digits=2),  # > 0: inner end lower (determined)
        "inner": _u(rng, -0.022, 0.008),  # inner end, relative to the eye's inner corner
        "color": palette.as_list(rgb),
    }


def _nose(rng):
    return {"style": _choice(rng, NOSE_STYLES), "size": _u(rng, 1.0, 1.4),
            "darkness": _u(rng, 0.45, 0.6)}


def _mouth(rng, skin):
    shape = _choice(rng, MOUTH_SHAPES)
    _, lips = palette.pick(rng, palette.LIPS)
    lips = palette.mix(lips, skin["color"], _u(rng, 0.0, 0.45))
    width = {"closed": (0.09, 0.14), "smile": (0.1, 0.155), "open": (0.085, 0.13),
             "pout": (0.065, 0.09)}[shape]
    curve = {"closed": (-0.004, 0.003), "smile": (-0.02, -0.009), "open": (-0.012, 0.002),
             "pout": (0.002, 0.006)}[shape]
    lower = (0.013, 0.018) if shape == "pout" else (0.008, 0.0145)
    return {
        "shape": shape,
        "width": _u(rng, *width),
        "upper": _u(rng, 0.0055, 0.0105),  # upper lip thickness
        "lower": _u(rng, *lower),
        "curve": _u(rng, *curve),  # corner height relative to the centre (< 0: up)
        "open": _u(rng, 0.012, 0.03) if shape == "open" else 0.0,
        "chin_line": bool(shape == "pout" or rng.random() < 0.3),  # a stroke under the lip
        "lip_color": palette.as_list(lips),
    }


def _light(rng):
    return {"angle": _u(rng, -60.0, 60.0, digits=2), "strength": _u(rng, 0.08, 0.24),
            "rim": _u(rng, 0.08, 0.25), "fringe_shadow": _u(rng, 0.1, 0.25),
            "neck_shadow": _u(rng, 0.25, 0.4), "hair_shadow": _u(rng, 0.1, 0.25)}


def _clothes(rng):
    base = palette.hsv(rng.random(), _u(rng, 0.1, 0.75), _u(rng, 0.22, 0.95))
    accent = palette.hsv(rng.random(), _u(rng, 0.0, 0.6), _u(rng, 0.5, 1.0))
    return {"neckline": _choice(rng, NECKLINES), "color": palette.as_list(base),
            "accent": palette.as_list(accent), "shoulders": _u(rng, 0.5, 0.58)}


def _background(rng):
    h = rng.random()
    first = palette.hsv(h, _u(rng, 0.05, 0.45), _u(rng, 0.72, 0.98))
    second = palette.hsv(h + _u(rng, -0.15, 0.15), _u(rng, 0.05, 0.5), _u(rng, 0.55, 0.98))
    return {"kind": _choice(rng, BACKGROUNDS), "colors": [palette.as_list(first),
                                                         palette.as_list(second)],
            "angle": _u(rng, 0.0, 360.0, digits=2)}


def sample_face_params(rng: np.random.Generator) -> dict:
    """Every parameter of one face, drawn from `rng`; plain JSON data."""
    pose = _pose(rng)
    face = _face(rng)
    skin = _skin(rng)
    hair = _hair(rng)
    return {
        "version": PARAMS_VERSION,
        "pose": pose,
        "face": face,
        "skin": skin,
        "hair": hair,
        "eyes": _eyes(rng, hair),
        "brows": _brows(rng, hair),
        "nose": _nose(rng),
        "mouth": _mouth(rng, skin),
        "light": _light(rng),
        "clothes": _clothes(rng),
        "background": _background(rng),
    }
