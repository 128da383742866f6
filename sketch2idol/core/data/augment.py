"""Training-time augmentation of sketches (uint8 [H, W], black lines on white).

Stage 1 sees what people draw: off-centre (random resized crop, shift, small rotation),
with a pen of another width, with strokes left out. Stage 2 sees what stage 1 outputs:
blurry, sometimes with parts missing (blur and cutout).

Every augmentation takes its randomness from the `np.random.Generator` it is given and
nothing else, so `augment_rng(seed, epoch, index)` makes a training run reproducible
whatever the number of data-loader workers. Sizes are fractions of the image side, so the
same settings work at 256 and 512.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WHITE = 255
TUNED_SIZE = 256  # pixel-valued settings (kernel sizes) are for this side and scale with it


def augment_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The random stream for sample `index` in `epoch` of a run seeded with `seed`."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, index]))


def _check_sketch(sketch: np.ndarray) -> None:
    if sketch.dtype != np.uint8 or sketch.ndim != 2:
        raise ValueError(f"expected a uint8 sketch [H, W], got {sketch.dtype} {sketch.shape}")


def random_affine(sketch: np.ndarray, rng: np.random.Generator, *, crop_scale: tuple,
                  max_aspect: float, max_shift: float, max_rotation_deg: float) -> np.ndarray:
    """Random resized crop + shift + rotation as one affine warp; uncovered area is white."""
    height, width = sketch.shape
    side = max(height, width)
    keep = rng.uniform(*crop_scale)  # fraction of the side the crop keeps
    aspect = np.exp(rng.uniform(-np.log(max_aspect), np.log(max_aspect)))
    zoom_x, zoom_y = np.sqrt(aspect) / keep, 1.0 / (np.sqrt(aspect) * keep)
    # Where the crop sits inside the image, plus the drawing's own offset.
    slack = (1.0 - keep) / 2.0
    shift = rng.uniform(-slack, slack, 2) + rng.uniform(-max_shift, max_shift, 2)
    angle = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos * zoom_x, -sin * zoom_y], [sin * zoom_x, cos * zoom_y]])
    centre = np.array([width / 2.0, height / 2.0])
    offset = centre + shift * side - linear @ centre
    matrix = np.hstack([linear, offset[:, None]]).astype(np.float64)
    return cv2.warpAffine(sketch, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=WHITE)


def jitter_stroke_width(sketch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Thicken or thin every stroke by about a pixel (at 256), as another pen would."""
    scale = max(sketch.shape) / TUNED_SIZE
    if rng.random() < 0.5:
        side = max(2, round(3 * scale))
        return cv2.erode(sketch, np.ones((side, side), np.uint8))  # black lines grow
    side = max(2, round(2 * scale))
    thinner = cv2.dilate(sketch, np.ones((side, side), np.uint8))  # black lines shrink
    # Never erase the drawing entirely: keep the original where thinning removed everything.
    return thinner if (thinner < 128).any() or not (sketch < 128).any() else sketch


def drop_strokes(sketch: np.ndarray, rng: np.random.Generator, *, holes: int,
                 radius: tuple) -> np.ndarray:
    """Erase `holes` random discs centred on line pixels, as if strokes were left out."""
    ys, xs = np.nonzero(sketch < 128)
    if len(xs) == 0 or holes == 0:
        return sketch
    out = sketch.copy()
    side = max(sketch.shape)
    for pick in rng.integers(0, len(xs), holes):
        r = max(1, round(rng.uniform(*radius) * side))
        cv2.circle(out, (int(xs[pick]), int(ys[pick])), r, WHITE, -1)
    return out


def blur(sketch: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return sketch
    return cv2.GaussianBlur(sketch, (0, 0), sigma)


def cutout(sketch: np.ndarray, rng: np.random.Generator, *, count: int,
           size: tuple) -> np.ndarray:
    """Blank `count` random rectangles (white): parts stage 1 failed to draw."""
    out = sketch.copy()
    height, width = sketch.shape
    for _ in range(count):
        h = max(1, round(rng.uniform(*size) * height))
        w = max(1, round(rng.uniform(*size) * width))
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        out[top:top + h, left:left + w] = WHITE
    return out


@dataclass(frozen=True)
class Stage1Augment:
    """Perturb a clean training sketch the way people draw. Sizes are fractions of the side."""

    crop_scale: tuple[float, float] = (0.88, 1.0)
    max_aspect: float = 1.06
    max_shift: float = 8 / 256
    max_rotation_deg: float = 5.0
    width_jitter_prob: float = 0.5
    dropout_prob: float = 0.5
    max_dropout_holes: int = 4
    dropout_radius: tuple[float, float] = (0.015, 0.045)

    def __call__(self, sketch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _check_sketch(sketch)
        out = sketch
        if rng.random() < self.width_jitter_prob:
            out = jitter_stroke_width(out, rng)
        if rng.random() < self.dropout_prob:
            holes = int(rng.integers(1, self.max_dropout_holes + 1))
            out = drop_strokes(out, rng, holes=holes, radius=self.dropout_radius)
        return random_affine(out, rng, crop_scale=self.crop_scale, max_aspect=self.max_aspect,
                             max_shift=self.max_shift, max_rotation_deg=self.max_rotation_deg)


@dataclass(frozen=True)
class Stage2Augment:
    """Make a refined sketch look like a (worse) stage-1 output: blur and cutout."""

    blur_prob: float = 0.7
    max_blur_sigma: float = 1.5  # in pixels at 256
    cutout_prob: float = 0.3
    max_cutouts: int = 2
    cutout_size: tuple[float, float] = (0.04, 0.15)

    def __call__(self, sketch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        _check_sketch(sketch)
        out = sketch
        if rng.random() < self.blur_prob:
            sigma = rng.uniform(0.0, self.max_blur_sigma) * max(sketch.shape) / TUNED_SIZE
            out = blur(out, sigma)
        if rng.random() < self.cutout_prob:
            count = int(rng.integers(1, self.max_cutouts + 1))
            out = cutout(out, rng, count=count, size=self.cutout_size)
        return out
