import cv2
import numpy as np
import pytest

from sketch2idol.core.data.sketch import extract_sketch


def drawing(size: int) -> np.ndarray:
    """A flat-colour 'face': a filled disc and a bar on a light background (RGB)."""
    image = np.full((size, size, 3), (235, 225, 210), np.uint8)
    s = size / 256
    cv2.circle(image, (round(128 * s), round(120 * s)), round(70 * s), (200, 150, 120), -1,
               cv2.LINE_AA)
    cv2.rectangle(image, (round(90 * s), round(200 * s)), (round(170 * s), round(215 * s)),
                  (120, 40, 50), -1, cv2.LINE_AA)
    return image


def line_mask(sketch: np.ndarray) -> np.ndarray:
    return sketch < 128


@pytest.mark.parametrize("size", [256, 512])
def test_sketch_is_binary_black_on_white(size):
    sketch = extract_sketch(drawing(size))
    assert sketch.shape == (size, size) and sketch.dtype == np.uint8
    assert set(np.unique(sketch)) == {0, 255}
    assert line_mask(sketch).mean() < 0.1  # mostly white paper


def test_contours_become_lines_near_the_colour_boundary():
    sketch = extract_sketch(drawing(256))
    ys, xs = np.nonzero(line_mask(sketch))
    radius = np.hypot(xs - 128, ys - 120)
    on_circle = np.abs(radius - 70) < 4
    # The disc's outline is drawn all the way round...
    angles = np.degrees(np.arctan2(ys[on_circle] - 120, xs[on_circle] - 128)).astype(int)
    assert len(np.unique(angles // 10)) >= 30
    # ... and nothing is drawn inside the flat disc (away from the bar).
    inside = (radius < 60) & (ys < 190)
    assert inside.sum() == 0


@pytest.mark.parametrize("size", [256, 512])
def test_line_width_scales_with_resolution(size):
    lines = line_mask(extract_sketch(drawing(size)))
    skeleton = cv2.ximgproc.thinning(lines.astype(np.uint8) * 255) > 0
    width = lines.sum() / skeleton.sum()
    expected = 2.0 * size / 256
    assert expected * 0.6 < width < expected * 1.6


def test_flat_shading_and_speckle_noise_give_no_lines():
    rng = np.random.default_rng(0)
    ramp = np.linspace(120, 230, 256, dtype=np.float32)
    image = np.repeat(np.repeat(ramp[None, :, None], 256, 0), 3, 2)
    specks = rng.random((256, 256)) < 0.002  # isolated single-pixel dust
    image[specks] = 20
    sketch = extract_sketch(image.astype(np.uint8))
    assert line_mask(sketch).sum() < 20


def test_same_drawing_at_two_sizes_gives_the_same_sketch():
    small = line_mask(extract_sketch(drawing(256)))
    large = cv2.resize(extract_sketch(drawing(512)), (256, 256), interpolation=cv2.INTER_AREA)
    large = large < 200
    # Lines agree within a pixel: dilate each and compare coverage.
    kernel = np.ones((3, 3), np.uint8)
    assert (small & ~cv2.dilate(large.astype(np.uint8), kernel).astype(bool)).mean() < 0.002
    assert (large & ~cv2.dilate(small.astype(np.uint8), kernel).astype(bool)).mean() < 0.002


def test_rejects_non_uint8_images():
    with pytest.raises(ValueError, match="uint8"):
        extract_sketch(np.zeros((64, 64, 3), np.float32))


def test_the_scikit_image_thinning_fallback_draws_the_same_lines():
    # A GPU training box without opencv-contrib thins with scikit-image instead.
    from sketch2idol.core.data.sketch import thin

    lines = line_mask(extract_sketch(drawing(256)))
    opencv, fallback = thin(lines, "opencv-contrib"), thin(lines, "scikit-image")

    def near(mask):
        return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)

    # The same strokes, each skeleton within a pixel of the other.
    assert (fallback & ~near(opencv)).sum() <= 0.02 * fallback.sum()
    assert (opencv & ~near(fallback)).sum() <= 0.02 * opencv.sum()
