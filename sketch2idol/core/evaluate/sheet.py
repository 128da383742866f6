"""A sheet to look at: hand drawings (not from the renderer) painted in several looks.

    python -m sketch2idol.core.evaluate.sheet --drawings docs/drawings --out docs/look_sheet.png

One row per drawing: the drawing, its refined sketch, then the face in each look; the
column titles name the looks. Whatever the numbers say, a muddy, noisy or uniform face
shows here.

It also prints, per drawing and look, how much of the band below the jaw beside the neck
is painted in the look's hair colour (`long_hair_share`): about 0 for a bob, 0.2 for hair
to the shoulders, 0.5 for hair past them, so "drawn long hair came back as a bob" is a
number too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sketch2idol.core.data import dataset  # noqa: E402
from sketch2idol.core.looks import resolve_look  # noqa: E402
from sketch2idol.core.pipeline import Pipeline  # noqa: E402
from sketch2idol.core.weights import DEFAULT_WEIGHTS  # noqa: E402

SHEET_LOOKS = ("idol", "sunset", "ocean")
SHEET_T = 0.5
#: Where long hair shows and a bob does not (fractions of the side): the lowest quarter of
#: the picture, left and right of the neck's columns.
LONG_HAIR_ROWS = (0.75, 1.0)
NECK_COLUMNS = (0.375, 0.625)
#: RGB distance (0..255) within which a pixel counts as painted in the hair colour.
HAIR_COLOUR_TOLERANCE = 60.0


def long_hair_share(face: np.ndarray, hair_rgb) -> float:
    """Share of the band below the jaw, beside the neck, painted in the hair colour."""
    side = face.shape[0]
    band = face[int(LONG_HAIR_ROWS[0] * side):int(LONG_HAIR_ROWS[1] * side)].astype(np.float32)
    left, right = (int(f * side) for f in NECK_COLUMNS)
    beside = np.concatenate([band[:, :left], band[:, right:]], axis=1)
    distance = np.linalg.norm(beside - np.asarray(hair_rgb, np.float32), axis=-1)
    return float((distance < HAIR_COLOUR_TOLERANCE).mean())


def look_sheet(pipeline: Pipeline, drawings: dict[str, np.ndarray], looks=SHEET_LOOKS,
               t: float = SHEET_T) -> tuple[plt.Figure, dict[str, dict[str, float]]]:
    """The sheet, and long_hair_share per drawing and look."""
    columns = ["drawing", f"refined (t={t})", *looks]
    fig, axes = plt.subplots(len(drawings), len(columns),
                             figsize=(1.9 * len(columns), 1.9 * len(drawings)), squeeze=False)
    shares = {}
    for row, (name, drawing) in enumerate(drawings.items()):
        results = [pipeline(drawing, t=t, look=resolve_look(look)) for look in looks]
        shares[name] = {look: long_hair_share(result.face, result.look["hair"])
                        for look, result in zip(looks, results)}
        images = [results[0].sketch, results[0].refined, *(r.face for r in results)]
        for col, image in enumerate(images):
            ax = axes[row, col]
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(columns[col], fontsize=9)
            if col == 0:
                ax.set_ylabel(name.replace("_", " "), fontsize=8)
    fig.tight_layout(pad=0.3)
    return fig, shares


def read_drawings(folder: Path) -> dict[str, np.ndarray]:
    paths = sorted(Path(folder).glob("*.png"))
    if not paths:
        raise FileNotFoundError(f"{folder} holds no .png drawings")
    return {path.stem: dataset.read_grey(path) for path in paths}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--drawings", type=Path, default=Path("docs/drawings"))
    parser.add_argument("--out", type=Path, default=Path("docs/look_sheet.png"))
    parser.add_argument("--looks", nargs="+", default=list(SHEET_LOOKS))
    args = parser.parse_args(argv)
    fig, shares = look_sheet(Pipeline.from_weights(args.weights), read_drawings(args.drawings),
                             args.looks)
    fig.savefig(args.out, dpi=100)
    print(f"{args.out} written")
    print("hair below the jaw (long_hair_share; 0 = a bob):")
    print(f"{'drawing':<16}" + "".join(f"{look:>9}" for look in args.looks))
    for name, by_look in shares.items():
        print(f"{name:<16}" + "".join(f"{by_look[look]:>9.3f}" for look in args.looks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
