import cv2
import numpy as np
import pytest

from sketch2idol.core.data.placement import TYPICAL_FILL, ink_box, place_drawing


def face_drawing(canvas_hw, centre, radius):
    canvas = np.full(canvas_hw, 255, np.uint8)
    cv2.circle(canvas, centre, radius, 0, 3)
    cv2.circle(canvas, (centre[0] - radius // 3, centre[1] - radius // 4), radius // 8, 0, 2)
    cv2.circle(canvas, (centre[0] + radius // 3, centre[1] - radius // 4), radius // 8, 0, 2)
    return canvas


def test_a_small_off_centre_drawing_is_centred_and_enlarged():
    drawing = face_drawing((1200, 1600), (300, 900), 100)
    placed = place_drawing(drawing, 256)
    x0, y0, x1, y1 = ink_box(placed)
    assert abs((x0 + x1) / 2 - 128) <= 3 and abs((y0 + y1) / 2 - 128) <= 3
    assert max(x1 - x0, y1 - y0) == pytest.approx(TYPICAL_FILL * 256, abs=4)


def test_a_framed_drawing_keeps_its_framing():
    drawing = face_drawing((512, 512), (256, 240), 220)
    placed = place_drawing(drawing, 256)
    expected = cv2.resize(drawing, (256, 256), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(placed, expected)


def test_a_wide_canvas_is_padded_not_stretched():
    drawing = face_drawing((400, 800), (400, 200), 190)
    placed = place_drawing(drawing, 256)
    x0, y0, x1, y1 = ink_box(placed)
    assert abs((x1 - x0) - (y1 - y0)) <= 3  # still a circle


def test_blank_canvas_and_colour_input():
    assert (place_drawing(np.full((300, 200), 255, np.uint8), 256) == 255).all()
    rgb = np.repeat(face_drawing((256, 256), (128, 128), 110)[..., None], 3, axis=2)
    assert place_drawing(rgb, 256).shape == (256, 256)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        place_drawing(np.zeros((10, 10), np.float32), 256)
