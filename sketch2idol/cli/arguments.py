"""argparse types for the command's numbers: each names what it wanted and what it got,
so a bad value ends in one line (`argument --steps: expected a whole number >= 1, got 0`)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from sketch2idol.core.contract import T_RANGE, t_outside_range


def number_type(convert: Callable[[str], float], accepts: Callable[[float], bool],
                expected: str) -> Callable[[str], float]:
    """An argparse type: `convert(text)`, refused unless `accepts` it."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value
    return parse


def in_unit_interval(value: float) -> bool:
    return 0.0 <= value <= 1.0


positive_int = number_type(int, lambda value: value >= 1, "a whole number >= 1")
non_negative_int = number_type(int, lambda value: value >= 0, "a whole number >= 0")
probability = number_type(float, in_unit_interval, "a probability from 0 to 1")
#: A share of something (e.g. `weights average --share`): the same range, worded as a share.
fraction = number_type(float, in_unit_interval, "a number from 0 to 1")
#: A filter side in pixels: 0 (none) or odd, so the filter has a centre pixel.
odd_side = number_type(int, lambda value: value == 0 or (value > 0 and value % 2 == 1),
                       "0 or an odd whole number of pixels")
non_negative_float = number_type(float, lambda value: math.isfinite(value) and value >= 0,
                                 "a number >= 0")
positive_seconds = number_type(float, lambda value: math.isfinite(value) and value > 0,
                               "seconds > 0")
#: A blend factor t, a number in T_RANGE.
unit_interval = number_type(float, lambda value: not t_outside_range(value),
                            f"a number from {T_RANGE[0]:g} to {T_RANGE[1]:g}")


def component_names(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated component names (geometry.COMPONENTS), each once."""
    from sketch2idol.core.geometry import COMPONENTS

    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in COMPONENTS]
    if not names or unknown or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names from {', '.join(COMPONENTS)}, each once, got "
            f"{text!r}")
    return names
