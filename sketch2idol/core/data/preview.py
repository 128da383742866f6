"""`data preview`: a contact sheet of what a data set holds, one tile per sample.

A tile shows the photo and its sketch and, for `data synth` sets, the casual drawing and
the label map (coloured): photo | sketch | casual | labels, with the sample's id (and the
casual drawing's style) underneath.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sketch2idol.core.data import dataset
from sketch2idol.core.data.faces.labels import colourise
from sketch2idol.core.errors import UserError

GAP = 6
LABEL_HEIGHT = 18
BACKGROUND = 255


def _panel(root: Path, kind: str, sample_id: str, side: int) -> np.ndarray:
    """One file of a sample as an RGB square of `side` px."""
    path = dataset.sample_path(root, kind, sample_id)
    if kind == "photo":
        image = dataset.read_rgb(path)
    elif kind == "labels":  # class values: nearest neighbour keeps them apart
        return cv2.resize(colourise(dataset.read_grey(path)), (side, side),
                          interpolation=cv2.INTER_NEAREST)
    else:
        image = np.repeat(dataset.read_grey(path)[..., None], 3, axis=2)
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


def labelled_tile(root: Path, sample_id: str, side: int, kinds: tuple[str, ...],
                  caption: str = "") -> np.ndarray:
    """The files `kinds` of one sample side by side, `side` px each, id underneath."""
    tile = np.full((side + LABEL_HEIGHT, len(kinds) * side, 3), BACKGROUND, np.uint8)
    for i, kind in enumerate(kinds):
        tile[:side, i * side:(i + 1) * side] = _panel(root, kind, sample_id, side)
    text = f"{sample_id}  {caption}".rstrip()
    cv2.putText(tile, text, (4, side + LABEL_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (60, 60, 60), 1, cv2.LINE_AA)
    return tile


#: Column headings of the sheet, per file kind.
HEADINGS = {"photo": "photo", "sketch": "detailed sketch", "casual": "casual drawing",
            "labels": "label map"}


def contact_sheet(root: Path, rows: list[dict], columns: int, side: int,
                  kinds: tuple[str, ...] = dataset.PAIR_FILES) -> np.ndarray:
    """Tiles of `rows` in `columns` columns, under a line naming what each panel shows."""
    tiles = [labelled_tile(root, row["id"], side, kinds, row.get("casual", {}).get("style", ""))
             for row in rows]
    grid_rows = -(-len(tiles) // columns)
    tile_h, tile_w = tiles[0].shape[:2]
    top_margin = GAP + LABEL_HEIGHT
    sheet = np.full((top_margin + grid_rows * (tile_h + GAP), GAP + columns * (tile_w + GAP), 3),
                    BACKGROUND, np.uint8)
    for column in range(columns):
        for i, kind in enumerate(kinds):
            x = GAP + column * (tile_w + GAP) + i * side + 4
            cv2.putText(sheet, HEADINGS[kind], (x, top_margin - 6), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4, (60, 60, 60), 1, cv2.LINE_AA)
    for i, tile in enumerate(tiles):
        top = top_margin + (i // columns) * (tile_h + GAP)
        left = GAP + (i % columns) * (tile_w + GAP)
        sheet[top:top + tile_h, left:left + tile_w] = tile
    return sheet


def shown_files(root: Path, ids: list[str]) -> tuple[str, ...]:
    """The files to show: photo and sketch, plus casual and labels where every sample has
    them (data synth sets)."""
    extra = tuple(kind for kind in dataset.SYNTH_FILES if kind not in dataset.PAIR_FILES
                  and all(dataset.sample_path(root, kind, i).exists() for i in ids))
    return dataset.PAIR_FILES + extra


def write_contact_sheet(root: Path, out: Path, *, count: int = 16, columns: int = 4,
                        side: int = 192) -> int:
    """Draw the first `count` samples of the data set at `root` into the PNG `out`."""
    rows = dataset.read_manifest(root)
    if not rows:
        raise UserError(f"{root} has no {dataset.MANIFEST_NAME} (or it is empty): "
                        "make one with `sketch2idol data synth` or `data ingest`")
    rows = rows[:count]
    ids = [row["id"] for row in rows]
    missing = [i for i in ids if not dataset.photo_path(root, i).exists()
               or not dataset.sketch_path(root, i).exists()]
    if missing:
        raise UserError(f"{root}: files of {len(missing)} manifest entries are missing "
                        f"(first: {missing[0]})")
    sheet = contact_sheet(Path(root), rows, min(columns, len(ids)), side,
                          shown_files(Path(root), ids))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    dataset.write_png(Path(out), sheet)
    return len(ids)
