"""The on-disk layout of a face data set, shared by `data synth` and `data ingest`.

    DIR/dataset.json     what made the set (kind, size, seed or source); guards re-runs
    DIR/photo/<id>.png   RGB face, aligned to the landmark template
    DIR/sketch/<id>.png  its sketch, black lines on white
    DIR/casual/<id>.png  (synth only) the face drawn casually by hand, black on white
    DIR/labels/<id>.png  (synth only) its label map: faces.labels.Label per pixel (0..13)
    DIR/manifest.jsonl   one JSON object per sample, sorted by id

Every file is written through `write_png`, whose encoding is fixed, so the same pixels
always give the same bytes and the sha256 in the manifest identifies the content.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

PHOTO_DIR = "photo"
SKETCH_DIR = "sketch"
CASUAL_DIR = "casual"
LABELS_DIR = "labels"
#: The files every sample has (manifest sha256 keys), and those `data synth` adds.
PAIR_FILES = ("photo", "sketch")
SYNTH_FILES = ("photo", "sketch", "casual", "labels")
_FILE_DIRS = {"photo": PHOTO_DIR, "sketch": SKETCH_DIR, "casual": CASUAL_DIR,
              "labels": LABELS_DIR}
MANIFEST_NAME = "manifest.jsonl"
INFO_NAME = "dataset.json"
PNG_COMPRESSION = 6


class DatasetMismatch(ValueError):
    """An existing data set directory was made with different settings."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encode_png(image: np.ndarray) -> bytes:
    """uint8 grey [H, W] or RGB [H, W, 3] -> PNG bytes (deterministic)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buffer.tobytes()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_png(path: Path, image: np.ndarray) -> str:
    """Encode and write `image` as PNG; returns the sha256 of the bytes written."""
    data = encode_png(image)
    write_atomic(path, data)
    return sha256_bytes(data)


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_grey(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return image


def has_casual_drawings(root: Path) -> bool:
    """Whether the data set in `root` holds casual drawings (sets made by `data synth`)."""
    rows = read_manifest(root)
    return bool(rows) and casual_path(root, rows[0]["id"]).exists()


def sample_path(root: Path, kind: str, sample_id: str) -> Path:
    """The file of one sample: `kind` is one of SYNTH_FILES."""
    return Path(root) / _FILE_DIRS[kind] / f"{sample_id}.png"


def photo_path(root: Path, sample_id: str) -> Path:
    return sample_path(root, "photo", sample_id)


def sketch_path(root: Path, sample_id: str) -> Path:
    return sample_path(root, "sketch", sample_id)


def casual_path(root: Path, sample_id: str) -> Path:
    return sample_path(root, "casual", sample_id)


def labels_path(root: Path, sample_id: str) -> Path:
    return sample_path(root, "labels", sample_id)


def prepare_dirs(root: Path, kinds: tuple[str, ...] = PAIR_FILES) -> None:
    for kind in kinds:
        (Path(root) / _FILE_DIRS[kind]).mkdir(parents=True, exist_ok=True)


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSON-lines file (empty if it does not exist yet)."""
    if not Path(path).exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, rows: Iterable[dict], sort_key) -> None:
    """Rewrite a JSON-lines file atomically: one compact object per line, sorted."""
    lines = [json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
             for row in sorted(rows, key=sort_key)]
    write_atomic(Path(path), ("\n".join(lines) + "\n").encode() if lines else b"")


def read_manifest(root: Path) -> list[dict]:
    """All manifest rows of the data set at `root` (empty if there is none yet)."""
    return read_jsonl(Path(root) / MANIFEST_NAME)


def write_manifest(root: Path, rows: Iterable[dict]) -> None:
    """Rewrite the manifest atomically, sorted by id."""
    write_jsonl(Path(root) / MANIFEST_NAME, rows, sort_key=lambda row: row["id"])


def check_or_write_info(root: Path, info: dict) -> None:
    """Record what makes this data set (`info`), or check an existing record agrees.

    Raises DatasetMismatch naming the first differing key, so that two different seeds,
    sizes or kinds never end up silently mixed in one directory.
    """
    path = Path(root) / INFO_NAME
    if path.exists():
        existing = json.loads(path.read_text(encoding="utf-8"))
        for key in sorted(set(existing) | set(info)):
            if existing.get(key) != info.get(key):
                raise DatasetMismatch(
                    f"{root} already holds a data set with {key}={existing.get(key)!r}, "
                    f"not {info.get(key)!r}; use another --out directory")
        return
    Path(root).mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(info, indent=2, sort_keys=True) + "\n").encode())


def verify_sample(root: Path, row: dict, kinds: tuple[str, ...] = PAIR_FILES) -> bool:
    """True if the row records a sha256 for each of `kinds` and those files match it."""
    recorded = row.get("sha256", {})
    for kind in kinds:
        path = sample_path(root, kind, row["id"])
        if kind not in recorded or not path.exists() or sha256_file(path) != recorded[kind]:
            return False
    return True


def read_info(root: Path) -> dict:
    """The dataset.json record of the data set at `root`."""
    path = Path(root) / INFO_NAME
    if not path.exists():
        raise FileNotFoundError(f"{root} is not a data set (no {INFO_NAME}); make one with "
                                "`sketch2idol data synth` or `data ingest`")
    return json.loads(path.read_text(encoding="utf-8"))
