"""Real-photo ingestion on a real face: scikit-image's astronaut (Eileen Collins, NASA).

One module-scoped run over a folder of generated photos (aligned faces at several scales
and angles, and one file for every rejection reason) is shared by most tests.
"""

import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from sketch2idol.core.data.dataset import (
    DatasetMismatch,
    photo_path,
    read_grey,
    read_manifest,
    read_rgb,
    sha256_file,
    sketch_path,
)
from sketch2idol.core.data.ingest import FilterConfig, IngestSummary, read_rejected, run_ingest
from sketch2idol.core.data.ingest.align import similarity_transform, transform_points
from sketch2idol.core.data.ingest.landmarks import (
    LEFT_EYE_RING,
    MOUTH_POINTS,
    RIGHT_EYE_RING,
    FaceMeshDetector,
    head_pose,
    head_rotation,
    key_points,
    rotation_from_pose,
)
from sketch2idol.core.geometry import ALIGNMENT_LANDMARKS, LANDMARKS, landmark_template

SIZE = 256
#: Where the face is in skimage's 512x512 astronaut (between the eyes and the mouth).
ASTRONAUT_FACE = (225.0, 125.0)
#: Alignment bound: re-detected eye and mouth centres vs the template, pixels at 256.
ALIGN_TOLERANCE = 3.0


def astronaut() -> np.ndarray:
    return skdata.astronaut()


def place(face: np.ndarray, scale: float, angle: float, canvas: np.ndarray,
          at: tuple[float, float]) -> np.ndarray:
    """Paste `face` scaled and rotated (degrees, counter-clockwise) into `canvas` so that
    its face centre lands at `at`; only the rotated picture itself is pasted."""
    h, w = face.shape[:2]
    matrix = cv2.getRotationMatrix2D(ASTRONAUT_FACE, angle, scale)
    matrix[:, 2] += np.array(at) - ASTRONAUT_FACE
    size = canvas.shape[1], canvas.shape[0]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    moved = cv2.warpAffine(face, matrix, size, flags=interpolation)
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, size) > 127
    out = canvas.copy()
    out[mask] = moved[mask]
    return out


def background(rng: np.random.Generator, noisy: bool, hw=(700, 900)) -> np.ndarray:
    if noisy:
        noise = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
        return cv2.GaussianBlur(noise, (0, 0), 3)
    return np.full((*hw, 3), rng.integers(40, 220, 3), np.uint8)


def encode(rgb: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    options = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}, "PNG": {}}[fmt]
    Image.fromarray(rgb).save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def make_aligned_photos(rng: np.random.Generator, count: int = 6) -> dict[str, dict]:
    """name -> {bytes, scale, angle}: the astronaut 0.6-1.6x, +-20 degrees, anywhere."""
    photos = {}
    formats = ["JPEG", "PNG", "WEBP"]
    for i in range(count):
        scale = float(rng.uniform(0.6, 1.6))
        angle = float(rng.uniform(-20, 20))
        margin = 150 * scale  # keep the whole head on the canvas
        at = (float(rng.uniform(margin, 900 - margin)), float(rng.uniform(margin, 700 - margin)))
        fmt = formats[i % 3]
        rgb = place(astronaut(), scale, angle, background(rng, noisy=i % 2 == 1), at)
        name = f"faces/face{i}.{fmt.lower().replace('jpeg', 'jpg')}"
        photos[name] = {"bytes": encode(rgb, fmt), "scale": scale, "angle": angle}
    return photos


def make_bad_files(rng: np.random.Generator) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, expected rejection reason)."""
    face = astronaut()
    jpeg, png = encode(face, "JPEG"), encode(face, "PNG")
    two = np.concatenate([face, face], axis=1)
    tiny = place(face, 0.3, 0.0, background(rng, noisy=False), (450.0, 350.0))
    blurred = place(cv2.GaussianBlur(face, (0, 0), 3.0), 1.6, 0.0, background(rng, False),
                    (450.0, 350.0))
    return {
        "bad/empty.jpg": (b"", "empty"),
        "bad/truncated.jpg": (jpeg[: len(jpeg) * 6 // 10], "truncated"),
        "bad/truncated.png": (png[: len(png) * 6 // 10], "truncated"),
        "bad/random.jpg": (rng.bytes(20000), "unsupported_format"),
        "bad/notes.txt": (b"this is not a photo\n" * 20, "unsupported_format"),
        "bad/bomb.png": (png_header_only(30000, 30000), "too_many_pixels"),
        "bad/coffee.jpg": (encode(skdata.coffee(), "JPEG"), "no_face"),
        "bad/two_faces.png": (encode(two, "PNG"), "several_faces"),
        "bad/tiny_face.png": (encode(tiny, "PNG"), "face_too_small"),
        "bad/blurred.png": (encode(blurred, "PNG"), "too_blurry"),
    }


def write_files(root, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """One two-worker run over aligned photos, a duplicate and every kind of bad file."""
    rng = np.random.default_rng(2024)
    root = tmp_path_factory.mktemp("ingest")
    src, out = root / "src", root / "out"
    photos = make_aligned_photos(rng)
    bad = make_bad_files(rng)
    write_files(src, {name: info["bytes"] for name, info in photos.items()})
    write_files(src, {name: content for name, (content, _) in bad.items()})
    first = sorted(photos)[0]
    write_files(src, {"later/copy_of_face0.jpg": photos[first]["bytes"]})
    summary = run_ingest(src, out, size=SIZE, workers=2, progress=False)
    return {"src": src, "out": out, "photos": photos, "bad": bad, "summary": summary,
            "duplicate_of": first}


@pytest.fixture(scope="module")
def detector():
    with FaceMeshDetector() as found:
        yield found


def by_source(rows: list[dict]) -> dict[str, dict]:
    return {row["source"]: row for row in rows}


def test_every_file_gets_its_outcome(ingested):
    accepted = by_source(read_manifest(ingested["out"]))
    rejected = by_source(read_rejected(ingested["out"]))
    assert sorted(accepted) == sorted(ingested["photos"])
    assert {name: row["reason"] for name, row in rejected.items()} == {
        name: reason for name, (_, reason) in ingested["bad"].items()}
    for row in rejected.values():
        assert set(row) == {"source", "source_sha256", "reason", "detail"}
        assert len(row["detail"]) > 10


def test_summary_counts(ingested):
    summary: IngestSummary = ingested["summary"]
    photos, bad = len(ingested["photos"]), len(ingested["bad"])
    assert summary.seen == photos + bad + 1
    assert summary.processed == photos + bad  # the copy is processed once
    assert (summary.accepted, summary.rejected) == (photos, bad)
    assert (summary.skipped, summary.duplicates, summary.known) == (1, 1, 0)
    expected = {}
    for _, reason in ingested["bad"].values():
        expected[reason] = expected.get(reason, 0) + 1
    assert dict(summary.reasons) == expected
    assert (summary.total_accepted, summary.total_rejected) == (photos, bad)
    text = summary.describe()
    assert f"{summary.seen} files seen" in text and f"{photos} accepted" in text
    assert "2 unsupported_format" in text and "1 duplicate" in text


def test_samples_are_written_with_their_hashes(ingested):
    out, src = ingested["out"], ingested["src"]
    rows = read_manifest(out)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    for row in rows:
        assert row["source_sha256"] == sha256_file(src / row["source"])
        assert row["id"] == row["source_sha256"][:16]
        assert row["size"] == SIZE
        photo, sketch = read_rgb(photo_path(out, row["id"])), read_grey(sketch_path(out, row["id"]))
        assert photo.shape == (SIZE, SIZE, 3) and sketch.shape == (SIZE, SIZE)
        assert set(np.unique(sketch)) <= {0, 255} and 0.005 < (sketch == 0).mean() < 0.3
        assert row["sha256"] == {"photo": sha256_file(photo_path(out, row["id"])),
                                 "sketch": sha256_file(sketch_path(out, row["id"]))}
        assert set(row["landmarks"]) == set(LANDMARKS)
        assert set(row["pose"]) == {"yaw", "pitch", "roll"}
    info = json.loads((out / "dataset.json").read_text())
    assert info["kind"] == "ingest" and info["size"] == SIZE


def test_aligned_faces_land_on_the_template(ingested, detector):
    """Re-detect the face in every aligned output: eyes and mouth on the template."""
    template = landmark_template(SIZE)
    worst = {}
    for row in read_manifest(ingested["out"]):
        faces = detector.detect(read_rgb(photo_path(ingested["out"], row["id"])))
        assert len(faces) == 1, row["source"]
        found = key_points(faces[0])
        for name in ALIGNMENT_LANDMARKS:
            redetected = np.hypot(*np.subtract(found[name], template[name]))
            recorded = np.hypot(*np.subtract(row["landmarks"][name], template[name]))
            agreement = np.hypot(*np.subtract(found[name], row["landmarks"][name]))
            worst[name] = max(worst.get(name, 0.0), redetected)
            assert redetected < ALIGN_TOLERANCE, (row["source"], name, redetected)
            assert recorded < ALIGN_TOLERANCE, (row["source"], name, recorded)
            assert agreement < ALIGN_TOLERANCE, (row["source"], name, agreement)
        # The nose is not fitted, but lies on the face's midline, near the template's.
        nose = np.subtract(row["landmarks"]["nose_tip"], template["nose_tip"])
        assert np.hypot(*nose) < 12, (row["source"], nose)
    print("worst re-detected distance to the template (px):", worst)


def test_pose_of_rotated_photos(ingested):
    """Roll follows the in-plane rotation; the astronaut's yaw and pitch stay small."""
    photos = ingested["photos"]
    for row in read_manifest(ingested["out"]):
        angle = photos[row["source"]]["angle"]  # counter-clockwise = negative roll
        # ~3 degrees: the astronaut's own head tilt in the original picture.
        assert abs(row["pose"]["roll"] + angle - 3.0) < 4.0, row
        assert abs(row["pose"]["yaw"]) < 8 and abs(row["pose"]["pitch"]) < 18, row
        eyes = photos[row["source"]]["scale"] * 43.0  # 43 px between the eyes at scale 1
        assert abs(row["eye_distance"] - eyes) < 0.1 * eyes, row


def test_second_run_with_another_size_is_refused(ingested):
    with pytest.raises(DatasetMismatch, match="size"):
        run_ingest(ingested["src"], ingested["out"], size=512, workers=1, progress=False)


def test_incremental_runs(ingested, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    shutil.copytree(ingested["src"], src)
    shutil.copytree(ingested["out"], out)
    before = {path.name: path.stat().st_mtime_ns for path in (out / "photo").iterdir()}

    again = run_ingest(src, out, size=SIZE, workers=2, progress=False)
    assert (again.processed, again.accepted, again.rejected) == (0, 0, 0)
    assert again.skipped == again.seen == ingested["summary"].seen
    assert {p.name: p.stat().st_mtime_ns for p in (out / "photo").iterdir()} == before

    rng = np.random.default_rng(7)
    new_face = place(astronaut()[:, ::-1], 1.2, 5.0, background(rng, False), (400.0, 300.0))
    write_files(src, {"new/mirrored.jpg": encode(new_face, "JPEG"),
                      "new/readme.txt": b"three new files\n",
                      "new/gradient.png": encode(np.tile(np.arange(256, dtype=np.uint8)[None, :,
                                                                                       None],
                                                         (64, 1, 3)), "PNG")})
    grown = run_ingest(src, out, size=SIZE, workers=1, progress=False)
    assert (grown.processed, grown.accepted, grown.rejected) == (3, 1, 2)
    assert dict(grown.reasons) == {"unsupported_format": 1, "no_face": 1}
    assert grown.total_accepted == ingested["summary"].total_accepted + 1
    mirrored = by_source(read_manifest(out))["new/mirrored.jpg"]
    assert mirrored["pose"]["roll"] < 0  # mirrored: the head tilts the other way

    (src / "faces" / "face1.png").rename(src / "faces" / "renamed.png")
    renamed = run_ingest(src, out, size=SIZE, workers=1, progress=False)
    assert renamed.processed == 0 and renamed.skipped == renamed.seen
    assert len(read_manifest(out)) == grown.total_accepted


def test_unexpected_error_is_recorded_and_retried(tmp_path, monkeypatch):
    import sketch2idol.core.data.ingest.process as process

    src, out = tmp_path / "src", tmp_path / "out"
    rng = np.random.default_rng(3)
    face = place(astronaut(), 1.2, 0.0, background(rng, False), (450.0, 350.0))
    write_files(src, {"a.png": encode(face, "PNG"), "b.txt": b"not an image"})

    def broken(photo):
        raise RuntimeError("sketch extractor exploded")

    monkeypatch.setattr(process, "extract_sketch", broken)
    failed = run_ingest(src, out, size=SIZE, workers=1, progress=False)
    assert (failed.processed, failed.accepted) == (2, 0)
    rows = by_source(read_rejected(out))
    assert rows["a.png"]["reason"] == "error"
    assert "RuntimeError: sketch extractor exploded" in rows["a.png"]["detail"]

    monkeypatch.undo()  # the bug is fixed: errors are tried again, final reasons are not
    fixed = run_ingest(src, out, size=SIZE, workers=1, progress=False)
    assert (fixed.processed, fixed.accepted, fixed.known) == (1, 1, 1)
    assert sorted(by_source(read_rejected(out))) == ["b.txt"]


def test_strict_pose_limits_reject_as_not_frontal(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    rng = np.random.default_rng(5)
    upright = place(astronaut(), 1.3, 0.0, background(rng, False), (450.0, 350.0))
    tilted = place(astronaut(), 1.3, 25.0, background(rng, True), (450.0, 350.0))
    write_files(src, {"upright.png": encode(upright, "PNG"), "tilted.png": encode(tilted, "PNG")})
    # The astronaut's pitch reads ~+10 degrees (her head is slightly bowed), her roll ~+3.
    strict = FilterConfig(max_pitch=5.0, max_roll=10.0)
    summary = run_ingest(src, out, size=SIZE, workers=1, filters=strict, progress=False)
    assert summary.reasons == {"not_frontal": 2}
    rows = by_source(read_rejected(out))
    assert "pitch" in rows["upright.png"]["detail"] and "roll" not in rows["upright.png"]["detail"]
    assert "roll is -" in rows["tilted.png"]["detail"] and "yaw" not in rows["tilted.png"]["detail"]


def test_byte_limit_rejects_without_reading(tmp_path):
    src = tmp_path / "src"
    write_files(src, {"big.png": encode(astronaut(), "PNG")})
    summary = run_ingest(src, tmp_path / "out", workers=1, max_bytes=100_000, progress=False)
    assert summary.reasons == {"too_large": 1}


def test_output_inside_the_source_is_not_ingested(tmp_path):
    src = tmp_path / "src"
    write_files(src, {"notes.txt": b"not a photo"})
    first = run_ingest(src, src / "out", workers=1, progress=False)
    second = run_ingest(src, src / "out", workers=1, progress=False)
    assert (first.seen, first.processed) == (1, 1)
    assert (second.seen, second.processed, second.skipped) == (1, 0, 1)


def crash_on_marker(task):
    """Runs in a spawned worker: dies like a native crash on files named crash*."""
    import os

    from sketch2idol.core.data.ingest.process import process_in_worker

    if Path(task.source).name.startswith("crash"):
        os._exit(3)
    return process_in_worker(task)


def test_a_dying_worker_does_not_stop_the_run(tmp_path):
    from sketch2idol.core.data.ingest.process import Settings, Task
    from sketch2idol.core.data.ingest.run import _run_tasks

    names = [f"note{i}.txt" for i in range(8)]
    names.insert(3, "crash.txt")
    tasks = []
    for name in names:
        (tmp_path / name).write_bytes(b"not an image " + name.encode())
        tasks.append(Task(path=str(tmp_path / name), source=name, source_sha256=name))
    settings = Settings(out=str(tmp_path / "out"), size=SIZE, filters=FilterConfig(),
                        max_bytes=1000, max_pixels=1000)
    results = {row["source"]: row["reason"]
               for _, row in _run_tasks(tasks, settings, workers=2, work=crash_on_marker)}
    assert sorted(results) == sorted(names)
    assert results["crash.txt"] == "error"
    # Files in flight beside it are recorded as errors (retried next run), the rest finish.
    assert set(results.values()) <= {"error", "unsupported_format"}
    assert list(results.values()).count("unsupported_format") >= 4


# --- pose estimate on synthetic 3-D landmarks ---------------------------------------------

def synthetic_frontal_mesh(rng: np.random.Generator) -> np.ndarray:
    """478 random points; the ones the pose uses form a level, frontal face."""
    points = rng.normal(0, 30, (478, 3))
    for left, right, x, y, z in ((33, 263, 45, -20, 10), (234, 454, 75, -10, 40)):
        points[left], points[right] = (-x, y, z), (x, y, z)
    points[10], points[152] = (0, -90, 5), (0, 100, 5)
    points[1] = (0, 20, -40)  # nose tip, in front of the face
    return points


@pytest.mark.parametrize("yaw, pitch, roll", [
    (0, 0, 0), (30, 0, 0), (-40, 0, 0), (0, 20, 0), (0, -35, 0), (0, 0, 45), (0, 0, -170),
    (17, -12, 33), (-25, 28, -8),
])
def test_pose_recovers_known_rotations(yaw, pitch, roll):
    rng = np.random.default_rng(11)
    base = synthetic_frontal_mesh(rng)
    assert np.allclose(head_rotation(base), np.eye(3))
    rotation = rotation_from_pose(yaw, pitch, roll)
    moved = 2.5 * base @ rotation.T + (300.0, 200.0, -50.0)  # any scale and position
    pose = head_pose(moved)
    assert pose.yaw == pytest.approx(yaw, abs=1e-6)
    assert pose.pitch == pytest.approx(pitch, abs=1e-6)
    assert pose.roll == pytest.approx(roll, abs=1e-6)


def test_pose_sign_conventions():
    base = synthetic_frontal_mesh(np.random.default_rng(0))
    nose = base[1]

    def moved_nose(**angles):
        return rotation_from_pose(**{"yaw": 0, "pitch": 0, "roll": 0, **angles}) @ nose

    assert moved_nose(yaw=20)[0] < nose[0]  # yaw > 0: the nose goes to the image's left
    assert moved_nose(pitch=20)[1] > nose[1]  # pitch > 0: the nose goes down
    eye_line = rotation_from_pose(0, 0, 20) @ (base[263] - base[33])
    assert eye_line[1] > 0  # roll > 0: clockwise on screen (y points down)


# --- pieces ---------------------------------------------------------------------------

def test_mesh_index_sets_match_mediapipe():
    import mediapipe as mp

    mesh = mp.solutions.face_mesh

    def ring(connections):
        return tuple(sorted({i for edge in connections for i in edge}))

    # MediaPipe names eyes from the person's side; geometry.py from the image's side.
    assert LEFT_EYE_RING == ring(mesh.FACEMESH_RIGHT_EYE)
    assert RIGHT_EYE_RING == ring(mesh.FACEMESH_LEFT_EYE)
    lips = ring(mesh.FACEMESH_LIPS)
    assert all(index in lips for index in MOUTH_POINTS)


def test_similarity_transform_recovers_a_known_similarity():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 500, (5, 2))
    angle, scale, shift = np.radians(33), 1.7, np.array([12.0, -40.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rotation.T + shift
    matrix = similarity_transform(src, dst)
    assert np.allclose(matrix[:, :2], scale * rotation) and np.allclose(matrix[:, 2], shift)
    assert np.allclose(transform_points(matrix, src), dst)
    mirrored = similarity_transform(src, src * (-1, 1))  # never a reflection
    assert np.linalg.det(mirrored[:, :2]) > 0
