import cv2
import numpy as np
import pytest

from sketch2idol.core.data.augment import (
    Stage1Augment,
    Stage2Augment,
    augment_rng,
    cutout,
    drop_strokes,
    jitter_stroke_width,
    random_affine,
)


def sketch_of_a_ring(size: int = 256) -> np.ndarray:
    sketch = np.full((size, size), 255, np.uint8)
    cv2.circle(sketch, (size // 2, size // 2), size // 4, 0, max(1, size // 128))
    cv2.line(sketch, (size // 3, size // 2), (2 * size // 3, size // 2), 0, max(1, size // 128))
    return sketch


def ink(sketch: np.ndarray) -> np.ndarray:
    return sketch < 128


def centre_of_ink(sketch: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(ink(sketch))
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.parametrize("augment", [Stage1Augment(), Stage2Augment()])
def test_same_seed_same_output_other_seed_other_output(augment):
    sketch = sketch_of_a_ring()
    a = augment(sketch, augment_rng(7, 0, 3))
    b = augment(sketch, augment_rng(7, 0, 3))
    assert np.array_equal(a, b)
    others = [augment(sketch, augment_rng(7, epoch, 3)) for epoch in range(1, 6)]
    assert any(not np.array_equal(a, other) for other in others)
    assert a.dtype == np.uint8 and a.shape == sketch.shape


def test_shift_is_bounded_and_actually_moves_the_drawing():
    sketch = sketch_of_a_ring()
    moves = []
    for index in range(40):
        rng = augment_rng(0, 0, index)
        out = random_affine(sketch, rng, crop_scale=(1.0, 1.0), max_aspect=1.0,
                            max_shift=8 / 256, max_rotation_deg=0.0)
        moves.append(np.abs(centre_of_ink(out) - centre_of_ink(sketch)).max())
    assert max(moves) <= 8.5
    assert max(moves) > 4  # the range is used, not just a pixel of jitter


def test_crop_zooms_in():
    sketch = sketch_of_a_ring()
    out = random_affine(sketch, augment_rng(0, 0, 0), crop_scale=(0.8, 0.8), max_aspect=1.0,
                        max_shift=0.0, max_rotation_deg=0.0)
    # The ring (diameter 128 + its 2-px line) grows by 1 / 0.8 when 80% of the side is kept.
    ys, xs = np.nonzero(ink(out))
    assert ys.max() - ys.min() == pytest.approx(130 / 0.8, abs=3)
    assert xs.max() - xs.min() == pytest.approx(130 / 0.8, abs=3)


def test_rotation_turns_the_horizontal_bar():
    sketch = np.full((256, 256), 255, np.uint8)
    cv2.line(sketch, (64, 128), (192, 128), 0, 2)
    out = random_affine(sketch, augment_rng(1, 0, 0), crop_scale=(1.0, 1.0), max_aspect=1.0,
                        max_shift=0.0, max_rotation_deg=5.0)
    ys, xs = np.nonzero(out < 128)
    slope = np.polyfit(xs, ys, 1)[0]
    assert 0.01 < abs(np.degrees(np.arctan(slope))) <= 5.2


def test_stroke_width_jitter_changes_the_amount_of_ink_both_ways():
    sketch = np.full((256, 256), 255, np.uint8)
    cv2.circle(sketch, (128, 128), 60, 0, 3)
    amounts = {int(ink(jitter_stroke_width(sketch, augment_rng(0, 0, i))).sum())
               for i in range(10)}
    before = int(ink(sketch).sum())
    assert min(amounts) < before < max(amounts)


def test_dropped_strokes_leave_gaps_and_keep_the_rest():
    sketch = sketch_of_a_ring()
    out = drop_strokes(sketch, augment_rng(0, 0, 0), holes=3, radius=(0.03, 0.03))
    assert ink(out).sum() < ink(sketch).sum()
    assert not (ink(out) & ~ink(sketch)).any()  # never adds ink
    assert ink(out).sum() > 0.5 * ink(sketch).sum()


def test_stage2_blur_and_cutout():
    sketch = sketch_of_a_ring()
    blurred = Stage2Augment(blur_prob=1.0, cutout_prob=0.0)(sketch, augment_rng(0, 0, 1))
    grey = (blurred > 10) & (blurred < 245)
    assert grey.sum() > (ink(sketch)).sum()  # soft edges appeared
    cut = cutout(sketch, augment_rng(0, 0, 0), count=1, size=(0.5, 0.5))
    assert (cut == 255).sum() > (sketch == 255).sum()
    assert ((cut == 255).mean(axis=1) == 1.0).sum() >= 64


def test_works_at_512_and_rejects_colour_images():
    out = Stage1Augment()(sketch_of_a_ring(512), augment_rng(0, 0, 0))
    assert out.shape == (512, 512)
    with pytest.raises(ValueError, match="uint8 sketch"):
        Stage1Augment()(np.zeros((8, 8, 3), np.uint8), augment_rng(0, 0, 0))
