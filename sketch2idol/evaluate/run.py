"""`sketch2idol eval`: score a weights directory on held-out procedural faces.

Writes eval.md (tables), eval.json (the same numbers), samples.png (sketch | refined |
generated | ground truth) and robustness.png into the output directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from sketch2idol.data import dataset  # noqa: E402
from sketch2idol.data.augment import augment_rng  # noqa: E402
from sketch2idol.data.sketch import extract_sketch  # noqa: E402
from sketch2idol.evaluate.metrics import image_quality, sketch_fidelity  # noqa: E402
from sketch2idol.evaluate.perturb import PERTURBATIONS  # noqa: E402
from sketch2idol.geometry import PART_COMPONENTS, component_windows  # noqa: E402
from sketch2idol.pipeline import Pipeline  # noqa: E402
from sketch2idol.train.logbook import save_grid  # noqa: E402

T_VALUES = (1.0, 0.5, 0.0)
BATCH = 8
GRID_ROWS = 6


def mean_of(rows: list[dict]) -> dict[str, float]:
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def fidelity_by_region(face: np.ndarray, sketch: np.ndarray) -> dict[str, float]:
    """Chamfer and F1 of the generated face's sketch vs the input, overall and per window."""
    drawn = extract_sketch(face)
    scores = {f"overall_{k}": v for k, v in sketch_fidelity(drawn, sketch).items()}
    for name in PART_COMPONENTS:
        window = component_windows(sketch.shape[0])[name]
        region = (window.rows, window.cols)
        scores.update({f"{name}_{k}": v for k, v in
                       sketch_fidelity(drawn, sketch, region).items()})
    return scores


def load_samples(data_dir: Path, count: int):
    rows = dataset.read_manifest(data_dir)[:count]
    if not rows:
        raise FileNotFoundError(f"{data_dir} holds no samples")
    sketches = np.stack([dataset.read_grey(dataset.sketch_path(data_dir, r["id"])) for r in rows])
    photos = np.stack([dataset.read_rgb(dataset.photo_path(data_dir, r["id"])) for r in rows])
    return [r["id"] for r in rows], sketches, photos


def quality_table(pipeline: Pipeline, sketches, photos, progress: bool = False,
                  t_values=T_VALUES) -> tuple[dict, list]:
    results, grid = {}, None
    for t in t_values:
        quality, fidelity = [], []
        for start in tqdm(range(0, len(sketches), BATCH), desc=f"quality t={t}",
                          disable=not progress):
            batch = sketches[start:start + BATCH]
            refined, faces, _ = pipeline.run_batch(batch, t)
            for face, sketch, photo in zip(faces, batch, photos[start:start + BATCH]):
                quality.append(image_quality(face, photo))
                fidelity.append(fidelity_by_region(face, sketch))
            if grid is None and t == 1.0:
                rows = min(GRID_ROWS, len(batch))
                grid = [batch[:rows], refined[:rows], faces[:rows],
                        photos[start:start + rows]]
        results[str(t)] = {**mean_of(quality), **mean_of(fidelity)}
    return results, grid


def robustness_table(pipeline: Pipeline, sketches, progress: bool = False,
                     perturbations=tuple(PERTURBATIONS)) -> dict:
    """Chamfer distance to the clean sketch: of the spoiled input, and of its refinement."""
    table = {}
    for name in tqdm(perturbations, desc="robustness", disable=not progress):
        spoil = PERTURBATIONS[name]
        spoiled = np.stack([spoil(s, augment_rng(1234, 0, i)) for i, s in enumerate(sketches)])
        row = {"input": float(np.mean([sketch_fidelity(s, c)["chamfer_px"]
                                       for s, c in zip(spoiled, sketches)]))}
        for t in T_VALUES:
            distances = []
            for start in range(0, len(spoiled), BATCH):
                refined, _ = pipeline.refiner.refine(spoiled[start:start + BATCH], t)
                distances += [sketch_fidelity(r, c)["chamfer_px"]
                              for r, c in zip(refined, sketches[start:start + BATCH])]
            row[f"t={t}"] = float(np.mean(distances))
        table[name] = row
    return table


def plot_robustness(table: dict, out: Path) -> None:
    names = list(table)
    columns = list(table[names[0]])
    x = np.arange(len(names))
    width = 0.8 / len(columns)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for i, column in enumerate(columns):
        ax.bar(x + i * width, [table[n][column] for n in names], width, label=column)
    ax.set_xticks(x + width * (len(columns) - 1) / 2, names)
    ax.set_ylabel("chamfer distance to the clean sketch (px)")
    ax.set_title("stage-1 robustness: spoiled input vs its refinement")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def markdown(report: dict) -> str:
    lines = [f"# Evaluation of `{report['weights']}`", "",
             f"{report['count']} held-out faces from `{report['data']}`.", "",
             "## Image quality and sketch fidelity", "",
             "Fidelity: the generated face is sketched with the training extractor and "
             "compared with the input sketch (chamfer in px, edge F1 at 1% of the diagonal).",
             "", "| t | L1 | PSNR (dB) | SSIM | chamfer (px) | edge F1 | "
             + " | ".join(f"F1 {n}" for n in PART_COMPONENTS) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(PART_COMPONENTS)]
    for t, row in report["quality"].items():
        parts = " | ".join(f"{row[f'{n}_edge_f1']:.3f}" for n in PART_COMPONENTS)
        lines.append(f"| {t} | {row['l1']:.4f} | {row['psnr']:.2f} | {row['ssim']:.4f} | "
                     f"{row['overall_chamfer_px']:.2f} | {row['overall_edge_f1']:.3f} | "
                     f"{parts} |")
    lines += ["", "## Stage-1 robustness", "",
              "Chamfer distance (px) to the clean sketch: of the spoiled input, and of the "
              "refined sketch at each t (lower is better).", ""]
    columns = list(next(iter(report["robustness"].values())))
    lines += ["| spoiled by | " + " | ".join(columns) + " |",
              "|---|" + "---|" * len(columns)]
    for name, row in report["robustness"].items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")
    return "\n".join(lines) + "\n"


def evaluate(weights: Path, data_dir: Path, out: Path, *, count: int = 100,
             progress: bool = True) -> dict:
    pipeline = Pipeline.from_weights(weights)
    ids, sketches, photos = load_samples(data_dir, count)
    if sketches.shape[1] != pipeline.size:
        raise ValueError(f"{data_dir} holds {sketches.shape[1]}² sketches; the weights are "
                         f"for {pipeline.size}²")
    quality, grid = quality_table(pipeline, sketches, photos, progress)
    report = {"weights": str(weights), "data": str(data_dir), "count": len(ids),
              "quality": quality,
              "robustness": robustness_table(pipeline, sketches, progress)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "eval.md").write_text(markdown(report))
    save_grid(out / "samples.png", grid)
    plot_robustness(report["robustness"], out / "robustness.png")
    return report
