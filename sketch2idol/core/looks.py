"""Looks: the colours a face is painted in, as people name them and as the generator reads them.

A look is a dict {field: (r, g, b)} over contract.LOOK_FIELDS, channels 0..255. It comes
from a renderer's parameters (training), a named look, a random draw from the training
distribution, or colour fields a person chose; `look_vector` turns it into the generator's
APPEARANCE input. Nothing here imports torch.

    look = resolve_look(name="sunset", overrides={"hair": "#ffcc00"})
    vector = look_vector(look)        # float32 [LOOK_DIM], RGB / 255
    as_hex(look)                      # {"hair": "#ffcc00", ...}
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from sketch2idol.core.contract import LOOK_CHANNELS, LOOK_DIM, LOOK_FIELDS, LOOK_RANGE

Look = dict[str, tuple[int, int, int]]

HEX_COLOUR = re.compile(r"^#?([0-9a-fA-F]{6})$")
#: The named look a request gets when it names none: a finished idol portrait.
DEFAULT_LOOK = "idol"
#: `look=random` draws from the training distribution with this name.
RANDOM_LOOK = "random"


class LookError(ValueError):
    """A look field, look name or seed that cannot be used; `field` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def parse_hex(text: str, field: str = "colour") -> tuple[int, int, int]:
    """'#rrggbb' (or 'rrggbb') -> (r, g, b); LookError naming `field` otherwise."""
    match = HEX_COLOUR.match(str(text).strip())
    if not match:
        raise LookError(field, f"{str(text)[:40]!r} is not a colour; use #rrggbb")
    value = match.group(1)
    return tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))


def to_hex(rgb) -> str:
    return "#" + "".join(f"{int(np.clip(round(float(c)), 0, 255)):02x}" for c in rgb)


def as_hex(look: Mapping[str, tuple[int, int, int]]) -> dict[str, str]:
    return {field: to_hex(look[field]) for field in LOOK_FIELDS}


def _rgb(values) -> tuple[int, int, int]:
    return tuple(int(np.clip(round(float(c)), 0, 255)) for c in values)


def look_from_params(params: dict) -> Look:
    """The look of a procedural face (sketch2idol.core.data.faces parameters)."""
    background = params["background"]
    first, second = background["colors"]
    return {
        "hair": _rgb(params["hair"]["color"]),
        "skin": _rgb(params["skin"]["color"]),
        "eyes": _rgb(params["eyes"]["iris_color"]),
        "lips": _rgb(params["mouth"]["lip_color"]),
        "clothes": _rgb(params["clothes"]["color"]),
        "background": _rgb(first),
        # a flat background paints only its first colour
        "background2": _rgb(second if background["kind"] != "flat" else first),
    }


def look_vector(look: Mapping[str, tuple[int, int, int]]) -> np.ndarray:
    """A look -> float32 [LOOK_DIM] in LOOK_RANGE: the generator's APPEARANCE input."""
    missing = [field for field in LOOK_FIELDS if field not in look]
    if missing:
        raise LookError(missing[0], "missing from the look")
    vector = np.array([look[field] for field in LOOK_FIELDS], np.float32).reshape(LOOK_DIM)
    return vector / 255.0


def look_from_vector(vector: np.ndarray) -> Look:
    values = np.asarray(vector, np.float32).reshape(len(LOOK_FIELDS), LOOK_CHANNELS)
    return {field: _rgb(values[i] * 255.0) for i, field in enumerate(LOOK_FIELDS)}


def check_appearance(vector: np.ndarray) -> str | None:
    """Why an APPEARANCE row can't be used (None if it can): wrong length, NaN, out of range."""
    values = np.asarray(vector)
    if values.shape[-1:] != (LOOK_DIM,):
        return f"APPEARANCE must hold {LOOK_DIM} values per face, got shape {values.shape}"
    if not np.isfinite(values).all():
        return "APPEARANCE holds NaN or infinity"
    low, high = LOOK_RANGE
    if values.min() < low or values.max() > high:
        return f"APPEARANCE values must lie in [{low}, {high}] (RGB / 255)"
    return None


# Named looks: each one a face the training set could have drawn (hair, iris and lip colours
# from the renderer's palettes, skin from its ramp), picked to read as finished portraits.
NAMED_LOOKS: dict[str, dict[str, str]] = {
    "idol": {"hair": "#2a2230", "skin": "#fcdcc8", "eyes": "#7c4e30", "lips": "#e8808a",
             "clothes": "#f4f0f4", "background": "#d8e6f8", "background2": "#b4c8f0"},
    "sunset": {"hair": "#a83e2c", "skin": "#f3ccae", "eyes": "#d09232", "lips": "#ee806a",
               "clothes": "#5a2a52", "background": "#f8d2a8", "background2": "#f0a088"},
    "pastel": {"hair": "#ee96b6", "skin": "#ffe8dc", "eyes": "#706cd0", "lips": "#e8808a",
               "clothes": "#c8e0f0", "background": "#fbeef4", "background2": "#e4d8f6"},
    "ocean": {"hair": "#486aba", "skin": "#fcdcc8", "eyes": "#3e72c4", "lips": "#ce5c68",
              "clothes": "#f0f4f8", "background": "#c4ecf0", "background2": "#80c0dc"},
    "forest": {"hair": "#784e34", "skin": "#e6b691", "eyes": "#48925c", "lips": "#ce8676",
               "clothes": "#3c5a3a", "background": "#e0ecd0", "background2": "#e0ecd0"},
    "blonde": {"hair": "#e4c27e", "skin": "#fcdcc8", "eyes": "#70ace0", "lips": "#e8808a",
               "clothes": "#283860", "background": "#f6f0e4", "background2": "#e8dcc4"},
    "silver": {"hair": "#c4c8d4", "skin": "#f3ccae", "eyes": "#ba343e", "lips": "#a84060",
               "clothes": "#202024", "background": "#d6d2e0", "background2": "#9c98b8"},
    "night": {"hair": "#2e3868", "skin": "#d49d76", "eyes": "#865cba",
              "lips": "#c85c68", "clothes": "#e6e0d0", "background": "#b8bcd8",
              "background2": "#8088b4"},
}


def named_look(name: str) -> Look:
    if name not in NAMED_LOOKS:
        raise LookError("look", f"unknown look {name[:40]!r}; choose one of "
                                f"{', '.join(sorted(NAMED_LOOKS))} or {RANDOM_LOOK}")
    return {field: parse_hex(NAMED_LOOKS[name][field], field) for field in LOOK_FIELDS}


def random_look(seed: int) -> Look:
    """The look of procedural face `seed`: a draw from the training distribution."""
    from sketch2idol.core.data.faces import sample_face_params

    if not isinstance(seed, int | np.integer) or not 0 <= int(seed) < 2**63:
        raise LookError("seed", f"{seed!r} is not an integer in [0, 2**63)")
    params = sample_face_params(np.random.default_rng(np.random.SeedSequence([int(seed),
                                                                               0x100C])))
    return look_from_params(params)


def resolve_look(name: str | None = None, overrides: Mapping[str, str] | None = None,
                 seed: int | None = None) -> Look:
    """The look a request asks for: the named look (or `random` with `seed`, or the default),
    then any field given as '#rrggbb' on top. A background given without background2 paints
    a flat background."""
    name = name or DEFAULT_LOOK
    if name == RANDOM_LOOK:
        look = random_look(0 if seed is None else seed)
    else:
        look = named_look(name)
    overrides = {field: value for field, value in (overrides or {}).items()
                 if value is not None and value != ""}
    unknown = sorted(set(overrides) - set(LOOK_FIELDS))
    if unknown:
        raise LookError(unknown[0], f"not a look field; the fields are {', '.join(LOOK_FIELDS)}")
    for field, value in overrides.items():
        look[field] = parse_hex(value, field)
    if "background" in overrides and "background2" not in overrides:
        look["background2"] = look["background"]
    return look
