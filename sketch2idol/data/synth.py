"""`data synth`: render the procedural face set, in parallel, deterministically, incrementally.

Face `i` of a set with seed `s` is drawn from its own random stream, SeedSequence([s, i]),
so every face depends on (s, i) alone: the worker count, the chunking and whether a run
was interrupted and resumed never change a byte of the output.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from sketch2idol.data import dataset
from sketch2idol.data.faces import render_face, sample_face_params
from sketch2idol.data.sketch import THINNING, extract_sketch
from sketch2idol.geometry import check_size

#: Bump when the renderer or the sketch extractor changes what a (seed, index) produces,
#: so an old directory is never silently extended with faces of a different look.
RENDERER_VERSION = 1
MANIFEST_FLUSH_EVERY = 500


@dataclass(frozen=True)
class SynthSummary:
    rendered: int
    skipped: int
    total: int


def sample_id(index: int) -> str:
    return f"{index:06d}"


def face_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def render_sample(seed: int, index: int, size: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """The manifest row (without file hashes), photo and sketch of face `index`."""
    params = sample_face_params(face_rng(seed, index))
    face = render_face(params, size)
    row = {
        "id": sample_id(index),
        "index": index,
        "seed": seed,
        "size": size,
        "params": params,
        "landmarks": {name: [round(float(x), 3), round(float(y), 3)]
                      for name, (x, y) in face.landmarks.items()},
    }
    return row, face.photo, extract_sketch(face.photo)


def write_sample(task: tuple[str, int, int, int]) -> dict:
    """Render face `index` and write its two PNGs; returns its complete manifest row."""
    root, seed, index, size = task
    row, photo, sketch = render_sample(seed, index, size)
    row["sha256"] = {
        "photo": dataset.write_png(dataset.photo_path(root, row["id"]), photo),
        "sketch": dataset.write_png(dataset.sketch_path(root, row["id"]), sketch),
    }
    return row


def _init_worker() -> None:
    cv2.setNumThreads(1)


def synthesize(out: Path, *, count: int, seed: int, size: int = 256,
               workers: int = 1, progress: bool = True) -> SynthSummary:
    """Make sure `out` holds faces 0..count-1 of the set `seed`; render only what's missing.

    A face counts as present when both its files exist and match the manifest's sha256.
    Raises dataset.DatasetMismatch if `out` holds a set of another seed, size or renderer.
    """
    check_size(size)
    out = Path(out)
    dataset.check_or_write_info(out, {"kind": "synth", "seed": seed, "size": size,
                                      "renderer_version": RENDERER_VERSION,
                                      "thinning": THINNING})
    dataset.prepare_dirs(out)
    rows = {row["id"]: row for row in dataset.read_manifest(out)}
    todo = [index for index in range(count)
            if sample_id(index) not in rows
            or not dataset.verify_sample(out, rows[sample_id(index)])]
    tasks = [(str(out), seed, index, size) for index in todo]

    bar = tqdm(total=len(tasks), desc="rendering faces", unit="face", disable=not progress)
    try:
        if workers <= 1 or len(tasks) < 2:
            _init_worker()
            results = map(write_sample, tasks)
            _collect(out, rows, results, bar)
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(workers, initializer=_init_worker) as pool:
                chunk = max(1, min(32, len(tasks) // (workers * 8)))
                _collect(out, rows, pool.imap_unordered(write_sample, tasks, chunk), bar)
    finally:
        bar.close()
        dataset.write_manifest(out, rows.values())
    return SynthSummary(rendered=len(tasks), skipped=count - len(tasks), total=len(rows))


def _collect(out: Path, rows: dict, results, bar: tqdm) -> None:
    for done, row in enumerate(results, start=1):
        rows[row["id"]] = row
        bar.update()
        if done % MANIFEST_FLUSH_EVERY == 0:
            dataset.write_manifest(out, rows.values())
