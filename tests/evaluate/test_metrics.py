import cv2
import numpy as np
import pytest

from sketch2idol.core.evaluate.metrics import image_quality, sketch_fidelity
from sketch2idol.core.evaluate.perturb import PERTURBATIONS


def ring(shift=0):
    sketch = np.full((256, 256), 255, np.uint8)
    cv2.circle(sketch, (128 + shift, 128), 60, 0, 2)
    return sketch


def test_identical_sketches_are_perfect():
    assert sketch_fidelity(ring(), ring()) == {"chamfer_px": 0.0, "edge_f1": 1.0}


def test_a_small_shift_is_within_tolerance_a_large_one_is_not():
    near = sketch_fidelity(ring(2), ring())
    assert 0.2 < near["chamfer_px"] < 2.0
    assert near["edge_f1"] == 1.0
    far = sketch_fidelity(ring(20), ring())
    assert far["chamfer_px"] > 8 and far["edge_f1"] < 0.4


def test_blank_against_a_drawing_is_the_worst_score():
    blank = np.full((256, 256), 255, np.uint8)
    assert sketch_fidelity(blank, ring())["edge_f1"] == 0.0


def test_region_restricts_the_comparison():
    a, b = ring(), ring()
    cv2.line(a, (0, 10), (40, 10), 0, 2)  # a stray stroke outside the region
    region = (slice(50, 210), slice(50, 210))
    assert sketch_fidelity(a, b, region)["edge_f1"] == 1.0
    assert sketch_fidelity(a, b)["edge_f1"] < 1.0


def test_image_quality():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    same = image_quality(photo, photo)
    assert same["l1"] == 0.0 and same["ssim"] == pytest.approx(1.0) and same["psnr"] == 100.0
    noisy = np.clip(photo.astype(int) + rng.integers(-30, 30, photo.shape), 0, 255)
    worse = image_quality(noisy.astype(np.uint8), photo)
    assert worse["l1"] > 0.02 and worse["ssim"] < 0.99 and worse["psnr"] < 30


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_every_perturbation_spoils_the_sketch_deterministically(name):
    spoil = PERTURBATIONS[name]
    a = spoil(ring(), np.random.default_rng(3))
    b = spoil(ring(), np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert sketch_fidelity(a, ring())["chamfer_px"] > 0.0
