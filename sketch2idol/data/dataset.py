"""The on-disk layout of a face data set, shared by `data synth` and `data ingest`.

    DIR/dataset.json     what made the set (kind, size, seed or source); guards re-runs
    DIR/photo/<id>.png   RGB face, aligned to the landmark template
    DIR/sketch/<id>.png  its sketch, black lines on white
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


def photo_path(root: Path, sample_id: str) -> Path:
    return Path(root) / PHOTO_DIR / f"{sample_id}.png"


def sketch_path(root: Path, sample_id: str) -> Path:
    return Path(root) / SKETCH_DIR / f"{sample_id}.png"


def prepare_dirs(root: Path) -> None:
    for sub in (PHOTO_DIR, SKETCH_DIR):
        (Path(root) / sub).mkdir(parents=True, exist_ok=True)


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


def verify_sample(root: Path, row: dict) -> bool:
    """True if both files of a manifest row exist and match their recorded sha256."""
    for kind, path in (("photo", photo_path(root, row["id"])),
                       ("sketch", sketch_path(root, row["id"]))):
        if not path.exists() or sha256_file(path) != row["sha256"][kind]:
            return False
    return True


def read_info(root: Path) -> dict:
    """The dataset.json record of the data set at `root`."""
    path = Path(root) / INFO_NAME
    if not path.exists():
        raise FileNotFoundError(f"{root} is not a data set (no {INFO_NAME}); make one with "
                                "`sketch2idol data synth` or `data ingest`")
    return json.loads(path.read_text(encoding="utf-8"))
