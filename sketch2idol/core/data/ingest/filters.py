"""Which detected faces are good enough to train on, and if not, why not.

Each check returns None when the face passes, or a `Rejection(reason, detail)`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import cv2
import numpy as np

from sketch2idol.core.data.ingest.landmarks import Pose
from sketch2idol.core.geometry import PART_COMPONENTS, component_windows

#: Sharpness is measured at this resolution whatever the output size, so one threshold
#: means the same thing for 256 and 512 data sets.
SHARPNESS_SIZE = 256


@dataclass(frozen=True)
class FilterConfig:
    """Thresholds for keeping a face.

    min_eye_distance: distance between the eye centres in the *source* image, pixels.
        The 256 template has 74 px between the eyes, so 24 px means at most ~3x upscaling.
    max_yaw / max_pitch / max_roll: largest accepted |angle| of the head, degrees.
        Roll is undone by the alignment, so its limit only screens out sideways or upside-
        down faces, on which the mesh is less reliable.
    min_sharpness: variance of the Laplacian of the aligned grey face (the box around the
        eye, nose and mouth windows), measured at 256 x 256.
    max_fit_residual: RMS distance, in pixels at 256 x 256, between the aligned eyes and
        mouth and the template. Real faces fit within ~1-3 px; a mesh that latched onto
        something else, or a wildly distorted face, does not.
    """

    min_eye_distance: float = 24.0
    max_yaw: float = 25.0
    max_pitch: float = 25.0
    max_roll: float = 45.0
    min_sharpness: float = 15.0
    max_fit_residual: float = 6.0

    def as_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}


class Rejection(NamedTuple):
    reason: str
    detail: str


def check_face_count(count: int) -> Rejection | None:
    if count == 0:
        return Rejection("no_face", "no face was found")
    if count > 1:
        return Rejection("several_faces", f"{count} faces were found; one is needed")
    return None


def check_face_size(eye_distance: float, config: FilterConfig) -> Rejection | None:
    if eye_distance < config.min_eye_distance:
        return Rejection("face_too_small", f"the eyes are {eye_distance:.1f} px apart; at least "
                         f"{config.min_eye_distance:g} px is needed")
    return None


def check_pose(pose: Pose, config: FilterConfig) -> Rejection | None:
    """Every angle (yaw, pitch, roll) beyond its limit, named with its value."""
    beyond = [f"{name} is {getattr(pose, name):+.1f} degrees (limit +-{limit:g})"
              for name, limit in (("yaw", config.max_yaw), ("pitch", config.max_pitch),
                                  ("roll", config.max_roll))
              if abs(getattr(pose, name)) > limit]
    if beyond:
        return Rejection("not_frontal", f"the head {'; '.join(beyond)}")
    return None


def sharpness(aligned: np.ndarray) -> float:
    """Variance of the Laplacian over the central face box of an aligned face photo."""
    grey = aligned if aligned.ndim == 2 else cv2.cvtColor(aligned, cv2.COLOR_RGB2GRAY)
    if grey.shape[0] != SHARPNESS_SIZE:
        grey = cv2.resize(grey, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA)
    windows = [component_windows(SHARPNESS_SIZE)[name] for name in PART_COMPONENTS]
    x0, y0 = min(w.x for w in windows), min(w.y for w in windows)
    x1, y1 = max(w.x + w.size for w in windows), max(w.y + w.size for w in windows)
    face = grey[y0:y1, x0:x1].astype(np.float64)
    return float(cv2.Laplacian(face, cv2.CV_64F).var())


def check_sharpness(value: float, config: FilterConfig) -> Rejection | None:
    if value < config.min_sharpness:
        return Rejection("too_blurry", f"the face's sharpness (Laplacian variance) is "
                         f"{value:.1f}; at least {config.min_sharpness:g} is needed")
    return None


def check_fit(residual: float, config: FilterConfig) -> Rejection | None:
    if residual > config.max_fit_residual:
        return Rejection("poor_fit", f"after alignment the eyes and mouth are {residual:.1f} px "
                         f"(RMS at 256 px) from the template; at most "
                         f"{config.max_fit_residual:g} is accepted")
    return None
