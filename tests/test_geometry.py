import ast
import pathlib

import pytest

from sketch2idol.core import geometry

PACKAGE = pathlib.Path(geometry.__file__).parents[1]  # the whole package, every layer


@pytest.mark.parametrize("size", geometry.SUPPORTED_SIZES)
def test_windows_fit_the_image_and_hold_their_landmark(size):
    windows = geometry.component_windows(size)
    assert tuple(windows) == geometry.COMPONENTS
    for window in windows.values():
        assert window.x >= 0 and window.y >= 0
        assert window.x + window.size <= size and window.y + window.size <= size
    assert windows["remainder"].size == size
    template = geometry.landmark_template(size)
    margin = size / 16  # every feature sits well inside its window, not on its edge
    assert windows["left_eye"].contains(*template["left_eye"], margin)
    assert windows["right_eye"].contains(*template["right_eye"], margin)
    assert windows["nose"].contains(*template["nose_tip"], margin)
    assert windows["mouth"].contains(*template["mouth"], margin)


def test_512_windows_are_deepfacedrawings():
    windows = geometry.component_windows(512)
    left_eye = windows["left_eye"]
    assert (left_eye.x, left_eye.y, left_eye.size) == (108, 156, 128)
    assert (windows["mouth"].x, windows["mouth"].y, windows["mouth"].size) == (169, 301, 192)


def test_256_is_512_scaled():
    small, large = geometry.component_windows(256), geometry.component_windows(512)
    for name in geometry.COMPONENTS:
        assert abs(small[name].x * 2 - large[name].x) <= 1
        assert abs(small[name].size * 2 - large[name].size) <= 1
    for name, (x, y) in geometry.landmark_template(256).items():
        assert geometry.landmark_template(512)[name] == (x * 2, y * 2)


def test_template_is_a_symmetric_face():
    template = geometry.landmark_template(256)
    (lx, ly), (rx, ry) = template["left_eye"], template["right_eye"]
    assert ly == ry and lx < rx
    assert template["mouth"][0] == template["nose_tip"][0] == (lx + rx) / 2
    assert ly < template["nose_tip"][1] < template["mouth"][1]


def test_unsupported_size_names_the_choices():
    with pytest.raises(ValueError, match="256, 512"):
        geometry.component_windows(300)


def test_no_other_module_repeats_the_window_numbers():
    # DeepFaceDrawing's window corners (x, y) must only be written down in geometry.py.
    corners = {(108, 156), (255, 156), (182, 232), (169, 301)}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "geometry.py":
            continue
        numbers = [node.value for node in ast.walk(ast.parse(path.read_text()))
                   if isinstance(node, ast.Constant) and isinstance(node.value, int)]
        pairs = set(zip(numbers, numbers[1:]))
        assert not pairs & corners, f"{path} repeats a component window"
