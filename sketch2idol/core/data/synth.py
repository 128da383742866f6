"""`data synth`: render the procedural face set, in parallel, deterministically, incrementally.

Face `i` of a set with seed `s` is drawn from its own random stream, SeedSequence([s, i]),
so every face depends on (s, i) alone: the worker count, the chunking and whether a run
was interrupted and resumed never change a byte of the output. Each face gets four files:
the photo, its detailed sketch, a casual drawing of it (from a second stream of its own,
SeedSequence([s, i, CASUAL_STREAM]), so the photo's parameters are those of a set made
before casual drawings existed) and its label map.

A directory made before casual drawings and label maps were written holds the same photos
and sketches; re-running `data synth` on it renders its faces again and adds the new files.

`hair_hug_prob` > 0 draws that share of the casual drawings with the hair's lines close
round the face (as people draw hair; casual.HAIR_HUG_RANGE), chosen from a third stream,
SeedSequence([s, i, CASUAL_STREAM, HAIR_HUG_STREAM]), so every other choice of the drawing
is the one the set without it has. The default, 0, is the set as it always was.
"""

from __future__ import annotations

import functools
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from sketch2idol.core.data import dataset
from sketch2idol.core.data.faces import RenderedFace, render_face, sample_face_params
from sketch2idol.core.data.faces.casual import HAIR_HUG_RANGE, draw_casual, sample_casual
from sketch2idol.core.data.sketch import THINNING, extract_sketch
from sketch2idol.core.geometry import DEFAULT_SIZE, check_size

#: Bump when the renderer, the sketch extractor, the casual drawings or the label maps
#: change what a (seed, index) produces, so an old directory is never silently extended
#: with faces of a different look. (Adding the casual drawings and label maps changed no
#: photo or sketch, so it did not bump it.)
RENDERER_VERSION = 1
MANIFEST_FLUSH_EVERY = 500
#: The third SeedSequence word of the casual drawings' random stream ("CA5ual").
CASUAL_STREAM = 0xCA5
#: The fourth word of the stream that picks which casual drawings hug the face ("hu6").
HAIR_HUG_STREAM = 0x406


@dataclass(frozen=True)
class SynthSummary:
    rendered: int
    skipped: int
    total: int


def sample_id(index: int) -> str:
    return f"{index:06d}"


def face_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def casual_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index, CASUAL_STREAM]))


def hair_hug_choice(seed: int, index: int, prob: float) -> float | None:
    """How far face `index`'s casual drawing pulls its hair in (None: it does not)."""
    if prob <= 0:
        return None
    rng = np.random.default_rng(np.random.SeedSequence([seed, index, CASUAL_STREAM,
                                                        HAIR_HUG_STREAM]))
    if rng.random() >= prob:
        return None
    return round(float(rng.uniform(*HAIR_HUG_RANGE)), 2)


def _render(seed: int, index: int, size: int) -> tuple[dict, RenderedFace]:
    """The manifest row (without casual drawing and file hashes) and render of face `index`."""
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
    return row, face


def render_sample(seed: int, index: int, size: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """The manifest row (without casual drawing and file hashes), photo and sketch of face
    `index`."""
    row, face = _render(seed, index, size)
    return row, face.photo, extract_sketch(face.photo)


def render_sample_files(seed: int, index: int, size: int, hair_hug_prob: float = 0.0
                        ) -> tuple[dict, dict[str, np.ndarray]]:
    """The manifest row (without file hashes) of face `index` and the image of each of its
    files (dataset.SYNTH_FILES); the row records the casual drawing's choices."""
    row, face = _render(seed, index, size)
    row["casual"] = sample_casual(casual_rng(seed, index))
    hug = hair_hug_choice(seed, index, hair_hug_prob)
    if hug is not None:
        row["casual"]["hair_hug"] = hug
    images = {"photo": face.photo, "sketch": extract_sketch(face.photo),
              "casual": draw_casual(row["params"], size, row["casual"]), "labels": face.labels}
    return row, images


def write_sample(task: tuple[str, int, int, int], hair_hug_prob: float = 0.0) -> dict:
    """Render face `index` and write its PNGs; returns its complete manifest row."""
    root, seed, index, size = task
    dataset.prepare_dirs(root, dataset.SYNTH_FILES)
    row, images = render_sample_files(seed, index, size, hair_hug_prob)
    row["sha256"] = {kind: dataset.write_png(dataset.sample_path(root, kind, row["id"]), image)
                     for kind, image in images.items()}
    return row


def _init_worker() -> None:
    cv2.setNumThreads(1)


def synthesize(out: Path, *, count: int, seed: int, size: int = DEFAULT_SIZE,
               workers: int = 1, progress: bool = True,
               hair_hug_prob: float = 0.0) -> SynthSummary:
    """Make sure `out` holds faces 0..count-1 of the set `seed`; render only what's missing.

    A face counts as present when all its files exist and match the manifest's sha256.
    Raises dataset.DatasetMismatch if `out` holds a set of another seed, size, renderer or
    hair-hug share.
    """
    check_size(size)
    if not 0.0 <= hair_hug_prob <= 1.0:
        raise ValueError(f"hair_hug_prob must be from 0 to 1, got {hair_hug_prob}")
    out = Path(out)
    info = {"kind": "synth", "seed": seed, "size": size, "renderer_version": RENDERER_VERSION,
            "thinning": THINNING}
    if hair_hug_prob > 0:  # recorded only when used: older sets stay valid as they are
        info["hair_hug_prob"] = hair_hug_prob
    dataset.check_or_write_info(out, info)
    dataset.prepare_dirs(out, dataset.SYNTH_FILES)
    rows = {row["id"]: row for row in dataset.read_manifest(out)}
    todo = [index for index in range(count)
            if sample_id(index) not in rows
            or not dataset.verify_sample(out, rows[sample_id(index)], dataset.SYNTH_FILES)]
    tasks = [(str(out), seed, index, size) for index in todo]
    write = functools.partial(write_sample, hair_hug_prob=hair_hug_prob)

    bar = tqdm(total=len(tasks), desc="rendering faces", unit="face", disable=not progress)
    try:
        if workers <= 1 or len(tasks) < 2:
            _init_worker()
            results = map(write, tasks)
            _collect(out, rows, results, bar)
        else:
            context = multiprocessing.get_context("spawn")
            with context.Pool(workers, initializer=_init_worker) as pool:
                chunk = max(1, min(32, len(tasks) // (workers * 8)))
                _collect(out, rows, pool.imap_unordered(write, tasks, chunk), bar)
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
