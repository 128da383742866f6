"""One source file -> an accepted sample (aligned photo + sketch on disk, manifest row) or a
rejection row. Runs inside a worker process, one `FileProcessor` (one face mesh) each."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2

from sketch2idol.core.data.dataset import photo_path, sha256_bytes, sketch_path, write_png
from sketch2idol.core.data.imageload import INGEST_FORMATS, ImageRejected, load_image
from sketch2idol.core.data.ingest import filters as F
from sketch2idol.core.data.ingest.align import (
    alignment_matrix,
    border_fraction,
    fit_residual,
    transform_points,
    warp,
)
from sketch2idol.core.data.ingest.landmarks import (
    FaceMeshDetector,
    eye_distance,
    head_pose,
    key_points,
)
from sketch2idol.core.data.sketch import extract_sketch
from sketch2idol.core.geometry import LANDMARKS

#: Characters of the source sha256 used as the sample id.
ID_LENGTH = 16


def sample_id(source_sha256: str) -> str:
    return source_sha256[:ID_LENGTH]


@dataclass(frozen=True)
class Task:
    path: str  # absolute path to read
    source: str  # path relative to SRC, POSIX separators
    source_sha256: str  # content hash from the walk (the worker re-hashes what it reads)


@dataclass(frozen=True)
class Settings:
    out: str
    size: int
    filters: F.FilterConfig
    max_bytes: int
    max_pixels: int


class Rejected(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def rejection_row(source: str, source_sha256: str | None, reason: str, detail: str) -> dict:
    return {"source": source, "source_sha256": source_sha256, "reason": reason,
            "detail": detail}


def _check(rejection: F.Rejection | None) -> None:
    if rejection is not None:
        raise Rejected(rejection.reason, rejection.detail)


class FileProcessor:
    """Holds one face mesh; `process(task)` never raises."""

    def __init__(self, settings: Settings, detector: FaceMeshDetector | None = None):
        self.settings = settings
        self.detector = detector if detector is not None else FaceMeshDetector()

    def close(self) -> None:
        self.detector.close()

    def process(self, task: Task) -> tuple[str, dict]:
        """("accepted", manifest row) or ("rejected", rejection row)."""
        sha = task.source_sha256
        try:
            data = self._read(task)
            sha = sha256_bytes(data)
            return "accepted", self._accept(task.source, sha, data)
        except (Rejected, ImageRejected) as rejection:
            return "rejected", rejection_row(task.source, sha, rejection.reason,
                                             rejection.detail)
        except Exception as error:  # one bad file must never stop the run
            return "rejected", rejection_row(task.source, sha, "error",
                                             f"{type(error).__name__}: {error}")

    def _read(self, task: Task) -> bytes:
        limit = self.settings.max_bytes
        try:
            size = os.stat(task.path).st_size
            if size > limit:  # don't even read it
                raise Rejected("too_large", f"the file has {size:,} bytes; the limit is "
                               f"{limit:,}")
            with open(task.path, "rb") as f:
                return f.read(limit + 1)
        except OSError as error:
            raise Rejected("unreadable", f"the file cannot be read ({error})") from None

    def _accept(self, source: str, sha: str, data: bytes) -> dict:
        s = self.settings
        rgb = load_image(data, max_bytes=s.max_bytes, max_pixels=s.max_pixels,
                         formats=INGEST_FORMATS)
        faces = self.detector.detect(rgb)
        _check(F.check_face_count(len(faces)))
        points = faces[0]
        found = key_points(points)
        eyes = eye_distance(found)
        _check(F.check_face_size(eyes, s.filters))
        pose = head_pose(points)
        _check(F.check_pose(pose, s.filters))
        matrix = alignment_matrix(found, s.size)
        residual = fit_residual(found, matrix, s.size)
        _check(F.check_fit(residual, s.filters))
        aligned = warp(rgb, matrix, s.size)
        sharp = F.sharpness(aligned)
        _check(F.check_sharpness(sharp, s.filters))
        sketch = extract_sketch(aligned)

        sid = sample_id(sha)
        out = Path(s.out)
        photo_sha = write_png(photo_path(out, sid), aligned)
        sketch_sha = write_png(sketch_path(out, sid), sketch)
        moved = transform_points(matrix, [found[name] for name in LANDMARKS])
        return {
            "id": sid,
            "source": source,
            "source_sha256": sha,
            "source_size": [int(rgb.shape[1]), int(rgb.shape[0])],
            "size": s.size,
            "landmarks": {name: [round(float(x), 2), round(float(y), 2)]
                          for name, (x, y) in zip(LANDMARKS, moved, strict=True)},
            "pose": pose.as_dict(),
            "eye_distance": round(eyes, 2),
            "fit_residual": round(residual, 3),
            "sharpness": round(sharp, 2),
            "border_fraction": round(border_fraction(rgb.shape, matrix, s.size), 4),
            "sha256": {"photo": photo_sha, "sketch": sketch_sha},
        }


# --- worker-process plumbing: one FileProcessor per process, made by the pool initializer.

_PROCESSOR: FileProcessor | None = None


def init_worker(settings: Settings) -> None:
    global _PROCESSOR
    cv2.setNumThreads(1)  # the pool already has one process per core
    _PROCESSOR = FileProcessor(settings)


def process_in_worker(task: Task) -> tuple[str, dict]:
    assert _PROCESSOR is not None, "init_worker was not called in this process"
    return _PROCESSOR.process(task)
