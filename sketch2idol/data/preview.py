"""`data preview`: a contact sheet of photo | sketch pairs, to see what a data set holds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sketch2idol.data import dataset
from sketch2idol.errors import UserError

GAP = 6
LABEL_HEIGHT = 18
BACKGROUND = 255


def labelled_pair(root: Path, sample_id: str, side: int) -> np.ndarray:
    """One tile: the photo and its sketch side by side, `side` px each, id underneath."""
    photo = cv2.resize(dataset.read_rgb(dataset.photo_path(root, sample_id)), (side, side),
                       interpolation=cv2.INTER_AREA)
    sketch = cv2.resize(dataset.read_grey(dataset.sketch_path(root, sample_id)), (side, side),
                        interpolation=cv2.INTER_AREA)
    tile = np.full((side + LABEL_HEIGHT, 2 * side, 3), BACKGROUND, np.uint8)
    tile[:side, :side] = photo
    tile[:side, side:] = sketch[..., None]
    cv2.putText(tile, sample_id, (4, side + LABEL_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (60, 60, 60), 1, cv2.LINE_AA)
    return tile


def contact_sheet(root: Path, ids: list[str], columns: int, side: int) -> np.ndarray:
    tiles = [labelled_pair(root, sample_id, side) for sample_id in ids]
    rows = -(-len(tiles) // columns)
    tile_h, tile_w = tiles[0].shape[:2]
    sheet = np.full((GAP + rows * (tile_h + GAP), GAP + columns * (tile_w + GAP), 3),
                    BACKGROUND, np.uint8)
    for i, tile in enumerate(tiles):
        top = GAP + (i // columns) * (tile_h + GAP)
        left = GAP + (i % columns) * (tile_w + GAP)
        sheet[top:top + tile_h, left:left + tile_w] = tile
    return sheet


def write_contact_sheet(root: Path, out: Path, *, count: int = 16, columns: int = 4,
                        side: int = 192) -> int:
    """Draw the first `count` samples of the data set at `root` into the PNG `out`."""
    rows = dataset.read_manifest(root)
    if not rows:
        raise UserError(f"{root} has no {dataset.MANIFEST_NAME} (or it is empty): "
                        "make one with `sketch2idol data synth` or `data ingest`")
    ids = [row["id"] for row in rows[:count]]
    missing = [i for i in ids if not dataset.photo_path(root, i).exists()
               or not dataset.sketch_path(root, i).exists()]
    if missing:
        raise UserError(f"{root}: files of {len(missing)} manifest entries are missing "
                        f"(first: {missing[0]})")
    sheet = contact_sheet(Path(root), ids, min(columns, len(ids)), side)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    dataset.write_png(Path(out), sheet)
    return len(ids)
