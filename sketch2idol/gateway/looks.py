"""The look a faces request asks for: its form fields -> the colours to paint, or a 422 that
names the field at fault.

    chosen = choose_look(name="sunset", seed=None, colours={"hair": "#ffcc00"})  # or 422
    chosen.vector()      # float32 [LOOK_DIM]: the ensemble's APPEARANCE row
    chosen.as_dict()     # {"name": "sunset", "seed": None, "hair": "#ffcc00", ...}

Resolution is `sketch2idol.core.looks.resolve_look` (the pipeline uses it too): the named look
(default `idol`), or `random` drawn from the training distribution with `seed`, then any
colour field on top. A `seed` without `look` means `look=random`; `look=random` without a
seed gets one picked here, and the answer reports it. With a named look `seed` does nothing
(the answer's `seed` is null). `sketch2idol generate` uses the same rules (`pick_look`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import numpy as np

from sketch2idol.core.contract import LOOK_FIELDS
from sketch2idol.core.looks import (
    DEFAULT_LOOK,
    NAMED_LOOKS,
    RANDOM_LOOK,
    Look,
    LookError,
    as_hex,
    look_vector,
    resolve_look,
)
from sketch2idol.gateway.errors import ApiError

#: The form fields of POST /v1/faces that choose the look.
LOOK_NAME_FIELD, SEED_FIELD = "look", "seed"
LOOK_FORM_FIELDS = (LOOK_NAME_FIELD, SEED_FIELD, *LOOK_FIELDS)
#: What `sketch2idol.core.looks.parse_hex` accepts: #rrggbb, the # optional, whitespace around it
#: (Python `\s` is exactly `str.isspace`, what `str.strip()` removes).
COLOUR_PATTERN = r"^\s*#?[0-9a-fA-F]{6}\s*$"
#: The colours the gateway answers with (sketch2idol.core.looks.to_hex).
HEX_PATTERN = r"^#[0-9a-f]{6}$"
#: What the gateway reads as a seed: a whole number in ASCII digits (a `+` and whitespace
#: around it allowed), from 0 to SEED_MAX: the largest integer a JavaScript number (and a
#: JSON Schema bound, a double) holds exactly.
SEED_TEXT = re.compile(r"^\s*\+?[0-9]+\s*$")
SEED_MAX = 2**53 - 1
#: A seed the gateway picks for `look=random` lies below this: short enough to read out.
PICKED_SEED_LIMIT = 2**31
#: What each colour field paints (the form's and the answers' documentation).
COLOUR_HELP = {"hair": "hair colour", "skin": "skin colour", "eyes": "iris colour",
               "lips": "lip colour", "clothes": "clothes colour",
               "background": "background colour (given alone: a flat background)",
               "background2": "second background colour (a gradient from `background`)"}
LOOK_NAMES = (*NAMED_LOOKS, RANDOM_LOOK)


@dataclass(frozen=True)
class ChosenLook:
    """The look a request was painted in, and where it came from."""

    name: str  # the named look the fields not given came from, or "random"
    seed: int | None  # the seed of a random look, else None
    colours: Look

    def vector(self) -> np.ndarray:
        return look_vector(self.colours)

    def as_dict(self) -> dict:
        return {"name": self.name, "seed": self.seed, **as_hex(self.colours)}

    def header(self) -> str:
        """The X-Look header: `sunset`, `random seed=123`."""
        return self.name if self.seed is None else f"{self.name} seed={self.seed}"


def look_refusal(error: LookError) -> ApiError:
    """The 422 for a LookError: the code says what kind of field, `field` which one."""
    if error.field == LOOK_NAME_FIELD:
        code = "unknown_look"
    elif error.field == SEED_FIELD:
        code = "invalid_seed"
    else:
        code = "invalid_colour"
    return ApiError(422, code, str(error), field=error.field)


def seed_error(value) -> LookError:
    shown = value if not isinstance(value, str) else repr(value[:40])
    return LookError(SEED_FIELD, f"must be a whole number from 0 to {SEED_MAX}, got {shown}")


def seed_refusal(value) -> ApiError:
    return look_refusal(seed_error(value))


def read_seed(text: str | None) -> int | None:
    """A seed as written (form field, command line) -> int, None when not given; LookError
    naming `seed` for anything but a whole number from 0 to SEED_MAX."""
    if text is None:
        return None
    if not isinstance(text, str) or not SEED_TEXT.match(text) or int(text.strip()) > SEED_MAX:
        raise seed_error(text)
    return int(text.strip())


def parse_seed(text: str | None) -> int | None:
    """`read_seed` for a request: the 422 naming `seed`."""
    try:
        return read_seed(text)
    except LookError as error:
        raise look_refusal(error) from None


def pick_look(name: str | None, seed: int | None, colours: dict[str, str | None],
              pick_seed=lambda: secrets.randbelow(PICKED_SEED_LIMIT)) -> ChosenLook:
    """The look asked for by a look name, a seed and colour fields (None: not given), the
    gateway's rules: a seed alone means `random`, `random` alone gets a picked seed, a named
    look ignores the seed. LookError naming the field at fault (an empty value included:
    resolve_look would read it as "not given")."""
    if name is not None and not name.strip():
        raise LookError(LOOK_NAME_FIELD, f"is empty; choose one of {', '.join(LOOK_NAMES)} "
                                         "or leave the field out")
    for field, value in colours.items():
        if value is not None and not str(value).strip():
            raise LookError(field, "is empty; give a colour as #rrggbb or leave the field out")
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise LookError(SEED_FIELD, f"must be a whole number from 0 to {SEED_MAX}, got {seed}")
    if name is None:
        name = RANDOM_LOOK if seed is not None else DEFAULT_LOOK
    if name == RANDOM_LOOK and seed is None:
        seed = pick_seed()
    if name != RANDOM_LOOK:
        seed = None  # a named look has no seed
    look = resolve_look(name, overrides=colours, seed=seed)
    return ChosenLook(name=name, seed=seed, colours=look)


def choose_look(name: str | None, seed: int | None, colours: dict[str, str | None]) -> ChosenLook:
    """`pick_look` for a request: a LookError becomes the 422 that names the field."""
    try:
        return pick_look(name, seed, colours)
    except LookError as error:
        raise look_refusal(error) from None


def named_looks() -> list[dict[str, str]]:
    """Every named look with its colours, in the order they are offered."""
    return [{"name": name, **as_hex(resolve_look(name))} for name in NAMED_LOOKS]


def looks_catalogue() -> dict:
    """GET /v1/looks: the default and random look names, the look fields, the named looks."""
    return {"default": DEFAULT_LOOK, "random": RANDOM_LOOK, "fields": list(LOOK_FIELDS),
            "looks": named_looks()}
