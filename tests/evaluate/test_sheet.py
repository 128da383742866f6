"""The look sheet: hand drawings painted in several looks, and the long-hair number it prints."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from sketch2idol.core.evaluate.sheet import long_hair_share, main

DRAWINGS = Path(__file__).resolve().parents[2] / "docs" / "drawings"

HAIR = (42, 34, 48)
SKIN = (252, 220, 200)


def portrait(hair_to: float, side: int = 256) -> np.ndarray:
    """A flat picture: skin, with hair-coloured bands down both sides to `hair_to` of the side."""
    face = np.empty((side, side, 3), np.uint8)
    face[:] = SKIN
    bottom = int(hair_to * side)
    face[:bottom, : side // 4] = HAIR
    face[:bottom, -side // 4:] = HAIR
    return face


def test_long_hair_share_tells_hair_to_the_shoulders_from_a_bob():
    assert long_hair_share(portrait(0.6), HAIR) == 0.0  # a bob ends above the band
    long = long_hair_share(portrait(1.0), HAIR)
    assert 0.5 < long < 0.7  # a quarter of each side, of the 3/8 beside the neck per side
    assert long_hair_share(portrait(1.0), (40, 90, 220)) == 0.0  # another colour: not hair
    # The band is the lowest quarter at any size: hair to half-way down it scores half.
    half = long_hair_share(portrait(0.875, side=512), HAIR)
    assert abs(half - 0.5 * long_hair_share(portrait(1.0, side=512), HAIR)) < 1e-6


def test_sheet_keeps_the_hand_drawn_long_hair_long_and_prints_it(tmp_path, capsys):
    # The shipped weights on two of the repository's hand drawings: the long hair is painted
    # below the jaw in both looks, the bare oval gets none.
    drawings = tmp_path / "drawings"
    drawings.mkdir()
    for name in ("long_hair", "minimal"):
        shutil.copy(DRAWINGS / f"{name}.png", drawings / f"{name}.png")
    out = tmp_path / "sheet.png"
    assert main(["--drawings", str(drawings), "--out", str(out), "--looks", "idol", "ocean"]) == 0
    assert out.stat().st_size > 10_000
    table = {line.split()[0]: [float(v) for v in line.split()[1:]]
             for line in capsys.readouterr().out.splitlines()
             if line.split() and line.split()[0] in ("long_hair", "minimal")}
    assert len(table["long_hair"]) == len(table["minimal"]) == 2
    assert min(table["long_hair"]) > 0.1, table
    assert max(table["minimal"]) < 0.02, table
