"""A sheet to look at: hand drawings (not from the renderer) painted in several looks.

    python -m sketch2idol.core.evaluate.sheet --drawings docs/drawings --out docs/look_sheet.png

One row per drawing: the drawing, its refined sketch, then the face in each look; the
column titles name the looks. Whatever the numbers say, a muddy, noisy or uniform face
shows here.
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


def look_sheet(pipeline: Pipeline, drawings: dict[str, np.ndarray], looks=SHEET_LOOKS,
               t: float = SHEET_T) -> plt.Figure:
    columns = ["drawing", f"refined (t={t})", *looks]
    fig, axes = plt.subplots(len(drawings), len(columns),
                             figsize=(1.9 * len(columns), 1.9 * len(drawings)), squeeze=False)
    for row, (name, drawing) in enumerate(drawings.items()):
        results = [pipeline(drawing, t=t, look=resolve_look(look)) for look in looks]
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
    return fig


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
    fig = look_sheet(Pipeline.from_weights(args.weights), read_drawings(args.drawings),
                     args.looks)
    fig.savefig(args.out, dpi=100)
    print(f"{args.out} written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
