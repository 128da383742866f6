"""A held-out face set in memory: drawings, ground truth, looks and label maps.

Procedural sets carry their renderer parameters, so every face's true look is known; sets
made by `data synth` also carry a casual drawing and a label map per face.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketch2idol.core.data import dataset
from sketch2idol.core.data.faces.casual import HAIR_HUG_RANGE, draw_casual
from sketch2idol.core.looks import look_from_params, look_vector

#: Faces averaged into the "average training face" baseline.
AVERAGE_FACE_COUNT = 1000
#: How far the held-out "hair drawn close" drawings pull the hair in: the middle of the
#: range `data synth --hair-hug-prob` trains on.
HELDOUT_HAIR_HUG = round(sum(HAIR_HUG_RANGE) / 2, 2)


@dataclass(frozen=True)
class HeldOut:
    ids: list[str]
    sketches: np.ndarray  # uint8 [N, S, S] detailed sketches
    photos: np.ndarray  # uint8 [N, S, S, 3] ground truth
    looks: np.ndarray  # float32 [N, LOOK_DIM] each face's own look
    params: list[dict]  # renderer parameters
    casual: np.ndarray | None  # uint8 [N, S, S] casual drawings, if the set has them
    labels: np.ndarray | None  # uint8 [N, S, S] label maps, if the set has them
    casual_choices: list[dict] | None = None  # how each casual drawing was drawn (style, ...)

    def __len__(self) -> int:
        return len(self.ids)


def _optional_stack(paths: list[Path], read) -> np.ndarray | None:
    if not all(path.exists() for path in paths):
        return None
    return np.stack([read(path) for path in paths])


def load_heldout(data_dir: Path, count: int) -> HeldOut:
    rows = dataset.read_manifest(data_dir)[:count]
    if not rows:
        raise FileNotFoundError(f"{data_dir} holds no samples")
    if any("params" not in row for row in rows):
        raise ValueError(f"{data_dir} records no renderer parameters, so the faces' looks are "
                         "unknown: evaluate on a `sketch2idol data synth` set")
    ids = [row["id"] for row in rows]
    return HeldOut(
        ids=ids,
        sketches=np.stack([dataset.read_grey(dataset.sketch_path(data_dir, i)) for i in ids]),
        photos=np.stack([dataset.read_rgb(dataset.photo_path(data_dir, i)) for i in ids]),
        looks=np.stack([look_vector(look_from_params(row["params"])) for row in rows]),
        params=[row["params"] for row in rows],
        casual=_optional_stack([dataset.casual_path(data_dir, i) for i in ids],
                               dataset.read_grey),
        labels=_optional_stack([dataset.labels_path(data_dir, i) for i in ids],
                               dataset.read_grey),
        casual_choices=([row["casual"] for row in rows]
                        if all("casual" in row for row in rows) else None),
    )


def hair_drawn_close(heldout: HeldOut, hug: float = HELDOUT_HAIR_HUG) -> np.ndarray | None:
    """uint8 [N, S, S]: each face's casual drawing redrawn with its hair lines pulled `hug` of
    the way in towards the face, as people draw hair (sketch2idol/core/data/faces/casual.py:
    _hugged); the same strokes otherwise. None for a set without casual drawings."""
    if heldout.casual_choices is None:
        return None
    size = heldout.sketches.shape[1]
    return np.stack([draw_casual(params, size, {**choices, "hair_hug": hug})
                     for params, choices in zip(heldout.params, heldout.casual_choices)])


def average_face(train_dir: Path, count: int = AVERAGE_FACE_COUNT) -> np.ndarray:
    """The mean of the first `count` training photos, uint8 [S, S, 3]: the blur baseline."""
    ids = [row["id"] for row in dataset.read_manifest(train_dir)[:count]]
    if not ids:
        raise FileNotFoundError(f"{train_dir} holds no samples to average")
    total = None
    for sample_id in ids:
        photo = dataset.read_rgb(dataset.photo_path(train_dir, sample_id)).astype(np.float64)
        total = photo if total is None else total + photo
    return np.clip(np.round(total / len(ids)), 0, 255).astype(np.uint8)
