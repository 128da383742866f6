"""MediaPipe face mesh -> the template landmarks and the head pose of each face.

The mesh has 478 points (468 face + 10 iris with `refine_landmarks=True`). MediaPipe
returns x, y normalised by the image width and height and z (depth, smaller = nearer the
camera) on roughly the scale of x; `FaceMeshDetector.detect` turns them into source pixels
[478, 3] = (x * W, y * H, z * W), so that the 3-D geometry is isotropic.

Names follow geometry.py: "left" is the left of the *image*, i.e. the person's right eye,
which MediaPipe calls RIGHT_EYE.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

# MediaPipe's native code logs through glog/absl; ask it to keep quiet before it is loaded.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from sketch2idol.core.geometry import LANDMARKS  # noqa: E402

NUM_POINTS = 478

#: The contour ring of the eye on the image's left (MediaPipe FACEMESH_RIGHT_EYE).
LEFT_EYE_RING = (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246)
#: The contour ring of the eye on the image's right (MediaPipe FACEMESH_LEFT_EYE).
RIGHT_EYE_RING = (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398,
                  466)
#: Lip corners (61, 291) and the inner-lip midpoints (13 upper, 14 lower).
MOUTH_POINTS = (61, 291, 13, 14)
NOSE_TIP = 1

#: Side of the square crop for a second mesh pass, as a multiple of the first mesh's extent.
REFINE_CROP = 2.0
#: Side of the square crop around a full-range detector box, as a multiple of the box side.
DETECTION_CROP = 3.0

# Head-frame construction for the pose: symmetric pairs (image-left, image-right) whose
# differences give the head's left-to-right axis, and the midline points whose difference
# gives its top-to-bottom axis.
_SYMMETRIC_PAIRS = ((33, 263), (234, 454))  # outer eye corners, face-oval sides at the eyes
_MIDLINE_TOP = 10  # top of the forehead
_MIDLINE_BOTTOM = 152  # bottom of the chin


@dataclass(frozen=True)
class Pose:
    """Head rotation in degrees, R = Rz(roll) @ Ry(yaw) @ Rx(pitch) in camera axes.

    yaw > 0: the face turns towards the image's left (the nose moves left);
    pitch > 0: the head bows (the nose moves down, the chin away from the camera);
    roll > 0: the face is turned clockwise in the image.
    """

    yaw: float
    pitch: float
    roll: float

    def as_dict(self) -> dict[str, float]:
        return {"yaw": round(self.yaw, 2), "pitch": round(self.pitch, 2),
                "roll": round(self.roll, 2)}


def key_points(points: np.ndarray) -> dict[str, tuple[float, float]]:
    """The four template landmarks (geometry.LANDMARKS) in the coordinates of `points`."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    found = {
        "left_eye": xy[list(LEFT_EYE_RING)].mean(axis=0),
        "right_eye": xy[list(RIGHT_EYE_RING)].mean(axis=0),
        "nose_tip": xy[NOSE_TIP],
        "mouth": xy[list(MOUTH_POINTS)].mean(axis=0),
    }
    return {name: (float(found[name][0]), float(found[name][1])) for name in LANDMARKS}


def eye_distance(points: dict[str, tuple[float, float]]) -> float:
    """Distance between the eye centres, in the units of `points`."""
    return float(np.hypot(points["right_eye"][0] - points["left_eye"][0],
                          points["right_eye"][1] - points["left_eye"][1]))


def head_rotation(points: np.ndarray) -> np.ndarray:
    """3x3 rotation whose columns are the head's right, down and backward axes in camera
    coordinates (x right, y down, z away from the camera), from 3-D mesh points.

    Right: the summed directions of symmetric point pairs. Down: forehead top -> chin,
    made orthogonal to "right". Backward: their cross product. A face whose eye line and
    forehead-to-chin line both lie in the image plane, level, has the identity rotation.
    """
    p = np.asarray(points, dtype=np.float64)
    right = sum(p[b] - p[a] for a, b in _SYMMETRIC_PAIRS)
    right = right / np.linalg.norm(right)
    down = p[_MIDLINE_BOTTOM] - p[_MIDLINE_TOP]
    down = down - right * float(right @ down)
    down = down / np.linalg.norm(down)
    back = np.cross(right, down)
    return np.stack([right, down, back], axis=1)


def rotation_from_pose(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation R = Rz(roll) @ Ry(yaw) @ Rx(pitch) (angles in degrees); the inverse
    of `pose_from_rotation`."""
    y, p, r = np.radians([yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def pose_from_rotation(rotation: np.ndarray) -> Pose:
    """Euler angles of R = Rz(roll) @ Ry(yaw) @ Rx(pitch), in degrees."""
    r = np.asarray(rotation, dtype=np.float64)
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return Pose(yaw=float(yaw), pitch=float(pitch), roll=float(roll))


def head_pose(points: np.ndarray) -> Pose:
    """Yaw, pitch and roll of a face from its 3-D mesh points [478, 3] (isotropic units)."""
    return pose_from_rotation(head_rotation(points))


@contextlib.contextmanager
def stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration (native logs ignore Python)."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class FaceMeshDetector:
    """MediaPipe face mesh (static images, refined landmarks, up to two faces per pass).

    The mesh's own detector (the short-range BlazeFace, 128 px input) misses faces smaller
    than about a sixth of the image. When it finds nothing, `detect` looks again with the
    full-range detector on the whole image and on half-size overlapping tiles, and runs the
    mesh on a crop around each face found (faces down to about 1/30 of the shorter side).

    Not thread-safe and not picklable: make one per process. With `quiet=True` each call
    into MediaPipe runs with stderr silenced, since its C++ side logs warnings there.
    """

    def __init__(self, max_num_faces: int = 2, quiet: bool = True, search_small: bool = True):
        self.quiet = quiet
        self.search_small = search_small
        with self._maybe_quiet():
            import mediapipe as mp

            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, refine_landmarks=True, max_num_faces=max_num_faces,
                min_detection_confidence=0.5)
            self._finder = (mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=0.5) if search_small else None)
            # The graphs open (and log) on background threads; one call on a blank image
            # waits for that to finish while stderr is still silenced.
            blank = np.zeros((64, 64, 3), dtype=np.uint8)
            self._mesh.process(blank)
            if self._finder is not None:
                self._finder.process(blank)

    def _maybe_quiet(self):
        return stderr_silenced() if self.quiet else contextlib.nullcontext()

    def _mesh_faces(self, rgb: np.ndarray, x0: int = 0, y0: int = 0) -> list[np.ndarray]:
        height, width = rgb.shape[:2]
        with self._maybe_quiet():
            result = self._mesh.process(np.ascontiguousarray(rgb))
        faces = []
        for face in result.multi_face_landmarks or ():
            points = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
            points *= (width, height, width)
            points[:, 0] += x0
            points[:, 1] += y0
            faces.append(points)
        return faces

    def _face_boxes(self, rgb: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        """Full-range detections (score, x, y, w, h) on the image and its tiles, after NMS."""
        height, width = rgb.shape[:2]
        boxes = []
        for x0, y0, side_x, side_y in _search_windows(width, height):
            window = np.ascontiguousarray(rgb[y0:y0 + side_y, x0:x0 + side_x])
            with self._maybe_quiet():
                result = self._finder.process(window)
            for detection in result.detections or ():
                box = detection.location_data.relative_bounding_box
                boxes.append((float(detection.score[0]), x0 + box.xmin * side_x,
                              y0 + box.ymin * side_y, box.width * side_x,
                              box.height * side_y))
        return _non_maximum_suppression(boxes)

    def _mesh_in_crop(self, rgb: np.ndarray, cx: float, cy: float,
                      side: float) -> list[np.ndarray]:
        """Mesh faces in the square of `side` px centred on (cx, cy), clipped to the image."""
        height, width = rgb.shape[:2]
        x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
        x1, y1 = min(width, int(cx + side / 2) + 1), min(height, int(cy + side / 2) + 1)
        if x1 - x0 < 16 or y1 - y0 < 16:
            return []
        return self._mesh_faces(rgb[y0:y1, x0:x1], x0, y0)

    def _refine(self, rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Re-run the mesh on a crop where the face fills about half the side.

        The mesh's first pass on a large image can start from a poor face box (small or
        soft faces); a second pass at a fixed relative scale is steadier.
        """
        (x0, y0), (x1, y1) = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        side = REFINE_CROP * max(x1 - x0, y1 - y0)
        for candidate in self._mesh_in_crop(rgb, (x0 + x1) / 2, (y0 + y1) / 2, side):
            if _same_face(candidate, points):
                return candidate
        return points

    def detect(self, rgb: np.ndarray) -> list[np.ndarray]:
        """All faces found in a uint8 RGB image, each as float64 [478, 3] source pixels.

        A single face is refined by a second mesh pass on a crop around it.
        """
        faces = self._mesh_faces(rgb)
        if faces:
            return [self._refine(rgb, faces[0])] if len(faces) == 1 else faces
        if not self.search_small:
            return faces
        for _, x, y, w, h in self._face_boxes(rgb):
            found = self._mesh_in_crop(rgb, x + w / 2, y + h / 2, DETECTION_CROP * max(w, h))
            for points in found:
                if not any(_same_face(points, other) for other in faces):
                    faces.append(points)
        return faces

    def close(self) -> None:
        with self._maybe_quiet():
            self._mesh.close()
            if self._finder is not None:
                self._finder.close()

    def __enter__(self) -> FaceMeshDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _search_windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The whole image, then square tiles of half the shorter side overlapping by half
    (every face up to a quarter of the shorter side lies wholly inside one of them)."""
    windows = [(0, 0, width, height)]
    side = min(width, height) // 2
    if side < 64:
        return windows
    step = side // 2

    def starts(length: int) -> list[int]:
        return sorted(set(range(0, length - side, step)) | {length - side})

    windows += [(x, y, side, side) for y in starts(height) for x in starts(width)]
    return windows


def _iou(a: tuple, b: tuple) -> float:
    ax, ay, aw, ah = a[1:]
    bx, by, bw, bh = b[1:]
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _non_maximum_suppression(boxes: list[tuple], threshold: float = 0.3) -> list[tuple]:
    kept: list[tuple] = []
    for box in sorted(boxes, key=lambda b: -b[0]):
        if all(_iou(box, other) < threshold for other in kept):
            kept.append(box)
    return kept


def _same_face(a: np.ndarray, b: np.ndarray) -> bool:
    """Two meshes of one face: their eye centres within a quarter of the eye distance."""
    ka, kb = key_points(a), key_points(b)
    tolerance = 0.25 * max(eye_distance(ka), eye_distance(kb))
    return all(np.hypot(ka[n][0] - kb[n][0], ka[n][1] - kb[n][1]) < tolerance
               for n in ("left_eye", "right_eye"))
