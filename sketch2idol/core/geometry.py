"""The face geometry every stage shares: landmark template and component windows.

This is the only place in the code base that holds these numbers. Data synthesis places
faces on the template, ingestion aligns real photos onto it, the stage-1 autoencoders crop
the windows, and the exported graphs bake the same windows in.

Coordinates are in pixels of a square image, x to the right, y down. "left" means the
left side of the *image* (the person's right eye), as in DeepFaceDrawing.

Windows are DeepFaceDrawing's (SIGGRAPH 2020) 512x512 component windows, scaled to the
requested size. The landmark template is a symmetric face about the image's vertical
centre line, with the eyes inside the eye windows and the mouth inside the mouth window;
its proportions (eye line to mouth centre = 0.97 x the distance between the eye centres,
nose tip at 0.64 of the way down) are those of an average adult face, so a similarity
transform fits real faces with small residuals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

REFERENCE_SIZE = 512
SUPPORTED_SIZES = (256, 512)
#: The image side data, training, export and serving use unless told otherwise.
DEFAULT_SIZE = SUPPORTED_SIZES[0]

#: Stage-1 components, in the fixed order used by every tensor of shape [.., 5, ..].
COMPONENTS = ("left_eye", "right_eye", "nose", "mouth", "remainder")
#: The four part components, cut out of the remainder and pasted back over it.
PART_COMPONENTS = COMPONENTS[:4]
#: The order parts are pasted over the decoded remainder: later ones win where windows
#: overlap, so the eyes (the most looked-at part) go last.
COMPOSITING_ORDER = ("nose", "mouth", "left_eye", "right_eye")
#: Width of the cross-fade band at a part window's border, as a fraction of its side. The
#: remainder keeps its strokes in this band (only the window's inner part is blanked) and
#: the pasted part fades in across it, so no seam shows at the window edge.
FEATHER_FRACTION = 1 / 8

#: Template landmarks, in the order used by landmark arrays of shape [.., 4, 2].
LANDMARKS = ("left_eye", "right_eye", "nose_tip", "mouth")
#: The three landmarks used for similarity alignment.
ALIGNMENT_LANDMARKS = ("left_eye", "right_eye", "mouth")

# (x, y, size) at 512x512: DeepFaceDrawing's windows.
_WINDOWS_AT_REFERENCE = {
    "left_eye": (108, 156, 128),
    "right_eye": (255, 156, 128),
    "nose": (182, 232, 160),
    "mouth": (169, 301, 192),
    "remainder": (0, 0, 512),
}

# (x, y) at 512x512.
_TEMPLATE_AT_REFERENCE = {
    "left_eye": (182.0, 220.0),
    "right_eye": (330.0, 220.0),
    "nose_tip": (256.0, 314.0),
    "mouth": (256.0, 364.0),
}


@dataclass(frozen=True)
class Window:
    """A square crop window: top-left corner (x, y) and side length, in pixels."""

    x: int
    y: int
    size: int

    @property
    def rows(self) -> slice:
        return slice(self.y, self.y + self.size)

    @property
    def cols(self) -> slice:
        return slice(self.x, self.x + self.size)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.size / 2.0, self.y + self.size / 2.0)

    @property
    def feather(self) -> int:
        """Width in pixels of the cross-fade band along this window's border."""
        return max(1, round(self.size * FEATHER_FRACTION))

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        return (
            self.x + margin <= x <= self.x + self.size - margin
            and self.y + margin <= y <= self.y + self.size - margin
        )


def check_size(size: int) -> int:
    """Return `size` if the models support it, else raise ValueError naming the choices."""
    if size not in SUPPORTED_SIZES:
        raise ValueError(f"image size {size} is not supported; choose one of {SUPPORTED_SIZES}")
    return size


@cache
def component_windows(size: int) -> dict[str, Window]:
    """The five component windows for a `size` x `size` image, keyed by component name."""
    scale = check_size(size) / REFERENCE_SIZE
    windows = {}
    for name, (x, y, side) in _WINDOWS_AT_REFERENCE.items():
        # The remainder always covers the whole image.
        side = size if name == "remainder" else round(side * scale)
        windows[name] = Window(x=round(x * scale), y=round(y * scale), size=side)
    return windows


@cache
def landmark_template(size: int) -> dict[str, tuple[float, float]]:
    """Canonical landmark positions for a `size` x `size` image, keyed by landmark name."""
    scale = check_size(size) / REFERENCE_SIZE
    return {name: (x * scale, y * scale) for name, (x, y) in _TEMPLATE_AT_REFERENCE.items()}


def template_points(size: int, names: tuple[str, ...] = ALIGNMENT_LANDMARKS) -> list[tuple]:
    """Template landmarks as a list of (x, y), in the order of `names`."""
    template = landmark_template(size)
    return [template[name] for name in names]
