"""Where the face sits: the landmark template plus the sampled jitter.

Every part of the drawing is placed relative to these points, so the landmarks returned
with a render are exactly where the eyes, nose and mouth were drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from sketch2idol.core.geometry import LANDMARKS, REFERENCE_SIZE, landmark_template


def normalised_template() -> dict[str, tuple[float, float]]:
    """The template landmarks in fractions of the image side."""
    return {name: (x / REFERENCE_SIZE, y / REFERENCE_SIZE)
            for name, (x, y) in landmark_template(REFERENCE_SIZE).items()}


@dataclass(frozen=True)
class Layout:
    """Anchor points of one face, in fractions of the image side."""

    cx: float  # the face's vertical mid-line
    eye_y: float
    half_ipd: float  # half the distance between the eye centres
    nose_y: float
    mouth_y: float

    @classmethod
    def from_params(cls, params: dict) -> Layout:
        pose = params["pose"]
        t = normalised_template()
        dx, dy = pose["shift"]
        cx = (t["left_eye"][0] + t["right_eye"][0]) / 2 + dx
        half_ipd = (t["right_eye"][0] - t["left_eye"][0] + pose["eye_spacing"]) / 2
        eye_y = (t["left_eye"][1] + t["right_eye"][1]) / 2 + dy + pose["eye_height"]
        return cls(cx=cx, eye_y=eye_y, half_ipd=half_ipd,
                   nose_y=t["nose_tip"][1] + dy + pose["nose_height"],
                   mouth_y=t["mouth"][1] + dy + pose["mouth_height"])

    @property
    def left_eye(self) -> tuple[float, float]:
        return (self.cx - self.half_ipd, self.eye_y)

    @property
    def right_eye(self) -> tuple[float, float]:
        return (self.cx + self.half_ipd, self.eye_y)

    def landmarks(self, size: int) -> dict[str, tuple[float, float]]:
        """Pixel coordinates (pixel i spans [i, i + 1)) of geometry.LANDMARKS at `size`."""
        points = {"left_eye": self.left_eye, "right_eye": self.right_eye,
                  "nose_tip": (self.cx, self.nose_y), "mouth": (self.cx, self.mouth_y)}
        return {name: (points[name][0] * size, points[name][1] * size) for name in LANDMARKS}
