"""Colours: the palettes parameters are drawn from, and small colour helpers.

Colours are RGB lists of three floats in 0..255 (JSON-friendly). Palettes hold named
anchors; sampling picks an anchor and jitters it, so colours vary continuously while
staying plausible for an illustration.
"""

from __future__ import annotations

import colorsys

import numpy as np

# Skin, light to deep: sampled by interpolating along this ramp.
SKIN_RAMP = np.array([
    (255, 232, 220), (252, 221, 200), (243, 204, 174), (230, 182, 145), (212, 157, 118),
    (184, 128, 92), (150, 98, 68), (115, 74, 52), (86, 56, 42),
], dtype=np.float64)

# (name, rgb, weight): natural colours weigh more than anime ones.
HAIR = (
    ("black", (38, 32, 40), 3.0), ("dark_brown", (72, 46, 36), 3.0),
    ("brown", (120, 78, 52), 2.5), ("chestnut", (146, 74, 46), 1.5),
    ("light_brown", (176, 128, 86), 1.5), ("blonde", (228, 194, 126), 1.5),
    ("platinum", (236, 226, 204), 0.8), ("auburn", (168, 62, 44), 1.0),
    ("pink", (238, 150, 182), 0.8), ("lavender", (172, 146, 214), 0.7),
    ("blue", (72, 104, 186), 0.7), ("navy", (46, 56, 104), 0.8),
    ("silver", (196, 200, 212), 0.7), ("teal", (62, 144, 146), 0.5),
    ("orange", (226, 132, 62), 0.5),
)

IRIS = (
    ("brown", (124, 78, 48), 2.5), ("dark_brown", (82, 52, 36), 2.0),
    ("hazel", (150, 118, 62), 1.0), ("amber", (208, 146, 50), 0.8),
    ("green", (72, 146, 92), 1.0), ("blue", (62, 114, 196), 1.5),
    ("light_blue", (112, 172, 224), 0.8), ("grey", (128, 140, 152), 0.6),
    ("violet", (134, 92, 186), 0.7), ("red", (186, 52, 62), 0.6),
    ("pink", (214, 102, 152), 0.5), ("teal", (48, 152, 162), 0.5),
)

LIPS = (
    ("pink", (232, 128, 138), 2.0), ("rose", (206, 92, 104), 1.5),
    ("coral", (238, 128, 106), 1.0), ("red", (200, 48, 62), 0.7),
    ("nude", (206, 134, 118), 1.5), ("berry", (168, 64, 96), 0.5),
)


def pick(rng: np.random.Generator, palette) -> tuple[str, np.ndarray]:
    weights = np.array([w for _, _, w in palette])
    name, rgb, _ = palette[rng.choice(len(palette), p=weights / weights.sum())]
    return name, np.array(rgb, dtype=np.float64)


def jitter(rng: np.random.Generator, rgb, amount: float) -> np.ndarray:
    """Scale the brightness and nudge each channel by up to `amount` (of 255)."""
    rgb = np.asarray(rgb, dtype=np.float64) * rng.uniform(1 - amount / 255, 1 + amount / 255)
    return np.clip(rgb + rng.uniform(-amount, amount, 3), 0, 255)


def skin_tone(t: float) -> np.ndarray:
    """The skin ramp at t in [0, 1] (0 = lightest)."""
    x = np.clip(t, 0.0, 1.0) * (len(SKIN_RAMP) - 1)
    i = min(int(x), len(SKIN_RAMP) - 2)
    return SKIN_RAMP[i] + (SKIN_RAMP[i + 1] - SKIN_RAMP[i]) * (x - i)


def hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v)) * 255.0


def mix(a, b, t: float) -> np.ndarray:
    return np.asarray(a, dtype=np.float64) * (1 - t) + np.asarray(b, dtype=np.float64) * t


def shade(rgb, factor) -> np.ndarray:
    """Multiply (per channel if `factor` is a triple), clipped to 0..255."""
    return np.clip(np.asarray(rgb, dtype=np.float64) * np.asarray(factor), 0, 255)


def luminance(rgb) -> float:
    r, g, b = np.asarray(rgb, dtype=np.float64) / 255.0
    return float(0.299 * r + 0.587 * g + 0.114 * b)


def contrasting(rgb, against, gap: float, dark) -> np.ndarray:
    """`rgb`, mixed towards `dark` until its luminance is `gap` below that of `against`."""
    target = luminance(against) - gap
    lum, lum_dark = luminance(rgb), luminance(dark)
    if lum <= target or lum <= lum_dark:
        return np.asarray(rgb, dtype=np.float64)
    t = min(1.0, (lum - target) / (lum - lum_dark))
    return mix(rgb, dark, t)


def as_list(rgb) -> list[float]:
    return [round(float(c), 2) for c in rgb]
