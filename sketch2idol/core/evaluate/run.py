"""`sketch2idol eval`: score a weights directory on held-out procedural faces.

Every face is generated in its own true look (from the renderer's parameters), from its
detailed sketch and, where the set has them, from its casual drawing and from that drawing
redrawn with the hair's lines close round the face, as people draw hair (the renderer's
casual drawings draw the hair's silhouette, which stands clear of the face; drawn close,
long hair must still come back long). Rows of every table:
each t, the **average training face** (one blurry mean face: what a generator that ignores
the drawing and the look would converge to; SSIM alone rates it well on these flat faces)
and the **ground truth** scored the same way (what the renderer's own lighting costs).
For casual drawings two more tables say where they lose: the scores by how each drawing was
drawn (style, fringe, ...), and the scores with one component's feature taken from the
face's detailed sketch.

Writes eval.md (tables), eval.json (the same numbers), samples.png (drawing | refined |
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

from sketch2idol.core.data.augment import augment_rng  # noqa: E402
from sketch2idol.core.data.faces import palette  # noqa: E402
from sketch2idol.core.data.faces.labels import FIELD_REGIONS, FLAT_REGIONS, Label  # noqa: E402
from sketch2idol.core.data.sketch import extract_sketch  # noqa: E402
from sketch2idol.core.evaluate import look_metrics  # noqa: E402
from sketch2idol.core.evaluate.heldout import (  # noqa: E402
    HELDOUT_HAIR_HUG,
    HeldOut,
    average_face,
    hair_drawn_close,
    load_heldout,
)
from sketch2idol.core.evaluate.metrics import image_quality, sketch_fidelity  # noqa: E402
from sketch2idol.core.evaluate.perturb import PERTURBATIONS  # noqa: E402
from sketch2idol.core.geometry import COMPONENTS, PART_COMPONENTS, component_windows  # noqa: E402,E501
from sketch2idol.core.looks import look_from_vector  # noqa: E402
from sketch2idol.core.pipeline import Pipeline  # noqa: E402
from sketch2idol.core.train.logbook import save_grid  # noqa: E402

T_VALUES = (1.0, 0.5, 0.0)
DEFAULT_T = 0.5  # the gateway's default
BATCH = 8
GRID_ROWS = 6
#: The regions whose colours compete with the hair's for the output's hair region.
HAIR_RIVALS = (Label.FACE_SKIN, Label.BODY_SKIN, Label.CLOTHES, Label.BACKGROUND)
#: Hair IoU is measured only where the hair's colour differs from every rival's by this
#: much (RGB distance): hair the colour of the skin cannot be told from it by colour.
MIN_HAIR_CONTRAST = 40.0
#: The casual drawings redrawn with the hair close round the face (heldout.hair_drawn_close):
#: hand drawings draw long hair so, and the renderer's plain casual drawings do not.
HAIR_CLOSE = f"casual drawings, hair drawn close (hug {HELDOUT_HAIR_HUG})"
#: The casual drawings' choices the breakdown splits on (manifest "casual" flag: noun).
CASUAL_FLAGS = {"fringe": "fringe", "full_oval": "the face oval closed through the hair",
                "neck": "neck"}


def mean_of(rows: list[dict]) -> dict[str, float]:
    """Per key, the mean over the rows that measured it (None = not measurable there)."""
    keys = dict.fromkeys(key for row in rows for key in row)
    means = {}
    for key in keys:
        values = [row[key] for row in rows if row.get(key) is not None]
        means[key] = float(np.mean(values)) if values else None
    return means


def fidelity_by_region(face: np.ndarray, sketch: np.ndarray) -> dict[str, float]:
    """Chamfer and F1 of the generated face's sketch vs the detailed sketch, overall and per
    component window."""
    drawn = extract_sketch(face)
    scores = {f"overall_{k}": v for k, v in sketch_fidelity(drawn, sketch).items()}
    for name in PART_COMPONENTS:
        window = component_windows(sketch.shape[0])[name]
        region = (window.rows, window.cols)
        scores.update({f"{name}_{k}": v for k, v in
                       sketch_fidelity(drawn, sketch, region).items()})
    return scores


def requested_colour(look: dict, field: str) -> np.ndarray:
    """The colour a field asks for; a gradient background asks for its two colours' mean."""
    if field == "background":
        return (np.asarray(look["background"], float) + look["background2"]) / 2
    return np.asarray(look[field], float)


def hair_iou(face: np.ndarray, truth: np.ndarray, labels: np.ndarray, look: dict
             ) -> float | None:
    """IoU of the output's hair (pixels nearest the true hair's mean colour among the
    ground truth's region colours and the look's backgrounds) and the true hair region;
    None where the hair cannot be told from another region by its colour."""
    hair_region = labels == int(Label.HAIR)
    hair = look_metrics.region_mean(truth, hair_region)
    rivals = [look_metrics.region_mean(truth, labels == int(c)) for c in HAIR_RIVALS]
    rivals = [c for c in rivals if c is not None] + [np.asarray(look["background"], float),
                                                     np.asarray(look["background2"], float)]
    if hair is None or min(np.linalg.norm(hair - c) for c in rivals) < MIN_HAIR_CONTRAST:
        return None
    return look_metrics.iou(look_metrics.nearest_colour_mask(face, hair, rivals), hair_region)


def look_scores(face: np.ndarray, truth: np.ndarray, look_row: np.ndarray,
                labels: np.ndarray | None) -> dict[str, float | None]:
    """Colour error per look field, hair IoU and texture ratio of one face (needs labels)."""
    if labels is None:
        return {}
    look = look_from_vector(look_row)
    scores: dict[str, float | None] = {}
    for field, classes in FIELD_REGIONS.items():
        region = np.isin(labels, [int(c) for c in classes])
        scores[f"colour_{field}"] = look_metrics.colour_error(
            face, region, requested_colour(look, field))
        truth_mean = look_metrics.region_mean(truth, region)
        scores[f"truth_colour_{field}"] = None if truth_mean is None else \
            look_metrics.colour_error(face, region, truth_mean)
    scores["hair_iou"] = hair_iou(face, truth, labels, look)
    flat = np.isin(labels, [int(c) for c in FLAT_REGIONS])
    ours = look_metrics.high_frequency_energy(face, flat)
    theirs = look_metrics.high_frequency_energy(truth, flat)
    scores["texture_ratio"] = None if ours is None or not theirs else ours / theirs
    return scores


def score_faces(faces: np.ndarray, heldout: HeldOut, start: int) -> list[dict]:
    rows = []
    for offset, face in enumerate(faces):
        i = start + offset
        labels = None if heldout.labels is None else heldout.labels[i]
        rows.append({**image_quality(face, heldout.photos[i]),
                     **fidelity_by_region(face, heldout.sketches[i]),
                     **look_scores(face, heldout.photos[i], heldout.looks[i], labels)})
    return rows


def reference_rows(heldout: HeldOut, average: np.ndarray | None) -> dict[str, dict]:
    """The ground truth and the average training face, scored like generated faces."""
    rows = {"ground truth": mean_of(score_faces(heldout.photos, heldout, 0))}
    if average is not None:
        repeated = np.broadcast_to(average, heldout.photos.shape)
        rows["average training face"] = mean_of(score_faces(repeated, heldout, 0))
    return rows


def quality_table(pipeline: Pipeline, heldout: HeldOut, drawings: np.ndarray,
                  progress: bool = False, t_values=T_VALUES) -> tuple[dict, list, list]:
    """Per t: mean scores of the faces generated from `drawings` in their true looks.
    Also returns the sample grid and the per-face rows at DEFAULT_T (for worst cases)."""
    results, grid, per_face = {}, None, []
    for t in t_values:
        rows = []
        for start in tqdm(range(0, len(drawings), BATCH), desc=f"faces t={t}",
                          disable=not progress):
            batch = drawings[start:start + BATCH]
            looks = heldout.looks[start:start + BATCH]
            refined, faces, _ = pipeline.run_batch(batch, t, looks)
            rows += score_faces(faces, heldout, start)
            if grid is None:
                count = min(GRID_ROWS, len(batch))
                grid = [batch[:count], refined[:count], faces[:count],
                        heldout.photos[start:start + count]]
        results[str(t)] = mean_of(rows)
        if t == DEFAULT_T:
            per_face = rows
    return results, grid, per_face


def colour_name(heldout: HeldOut, index: int, field: str) -> str | None:
    """The palette name of face `index`'s requested colour for `field`, where the renderer
    draws that colour from a named palette: hair (recorded in its parameters) and iris (the
    nearest palette entry: the renderer jitters it by at most 12 per channel)."""
    params = heldout.params[index]
    if field == "hair":
        return params["hair"].get("color_name")
    if field == "eyes":
        requested = np.asarray(params["eyes"]["iris_color"], dtype=np.float64)
        return min(palette.IRIS, key=lambda entry: np.sum((requested - entry[1]) ** 2))[0]
    return None


#: Look fields whose colours come from named palettes (see colour_name).
NAMED_FIELDS = {"hair": "hair", "eyes": "iris"}


def worst_colours(per_face: list[dict], heldout: HeldOut) -> dict[str, dict]:
    """Per look field, the face with the largest colour error; per named field (hair, iris),
    the palette colour with the largest mean error (under "<field>_by_name")."""
    worst = {}
    for field in FIELD_REGIONS:
        key = f"colour_{field}"
        measured = [(row[key], i) for i, row in enumerate(per_face) if row.get(key) is not None]
        if not measured:
            continue
        error, i = max(measured)
        look = look_from_vector(heldout.looks[i])
        worst[field] = {"error": error, "id": heldout.ids[i],
                        "colour": "#" + "".join(f"{c:02x}" for c in look[field]),
                        "hair_colour_name": colour_name(heldout, i, "hair")}
    for field in NAMED_FIELDS:
        names = {}
        for i, row in enumerate(per_face):
            name = colour_name(heldout, i, field)
            if row.get(f"colour_{field}") is not None and name is not None:
                names.setdefault(name, []).append(row[f"colour_{field}"])
        if names:
            name, errors = max(names.items(), key=lambda item: np.mean(item[1]))
            worst[f"{field}_by_name"] = {"name": name, "mean_error": float(np.mean(errors)),
                                         "faces": len(errors)}
    return worst


def stage1_table(pipeline: Pipeline, heldout: HeldOut) -> dict | None:
    """Casual drawing -> refined sketch: chamfer to the detailed sketch at each t."""
    if heldout.casual is None:
        return None
    row = {"input": float(np.mean([sketch_fidelity(c, s)["chamfer_px"]
                                   for c, s in zip(heldout.casual, heldout.sketches)]))}
    for t in T_VALUES:
        distances = []
        for start in range(0, len(heldout), BATCH):
            refined, _ = pipeline.refiner.refine(heldout.casual[start:start + BATCH], t)
            distances += [sketch_fidelity(r, s)["chamfer_px"]
                          for r, s in zip(refined, heldout.sketches[start:start + BATCH])]
        row[f"t={t}"] = float(np.mean(distances))
    return row


def stage1_attribution(pipeline: Pipeline, heldout: HeldOut, t: float = DEFAULT_T,
                       progress: bool = False) -> dict[str, dict] | None:
    """Where casual drawings lose, component by component: faces from each casual drawing
    with one component's projected feature taken from the face's detailed sketch instead
    (then decoded and painted as usual), at `t`. A component whose row rises far above the
    casual row is where stage 1 loses what the detailed sketch would have said. Rows:
    "casual", "<component> from the detailed sketch" per component, "detailed"."""
    if heldout.casual is None:
        return None
    refiner = pipeline.refiner
    swaps = {"casual": ()}
    swaps.update({f"{name} from the detailed sketch": (c,) for c, name in enumerate(COMPONENTS)})
    swaps["detailed"] = tuple(range(len(COMPONENTS)))
    rows = {name: [] for name in swaps}
    for start in tqdm(range(0, len(heldout), BATCH), desc="where casual drawings lose",
                      disable=not progress):
        end = min(start + BATCH, len(heldout))
        casual, _ = refiner.project(refiner.encode(heldout.casual[start:end]), t)
        detailed, _ = refiner.project(refiner.encode(heldout.sketches[start:end]), t)
        for name, components in swaps.items():
            features = casual.copy()
            features[:, list(components)] = detailed[:, list(components)]
            faces = pipeline.faces(refiner.decode(features), heldout.looks[start:end])
            rows[name] += score_faces(faces, heldout, start)
    return {name: mean_of(scored) for name, scored in rows.items()}


def casual_breakdown(per_face: list[dict], heldout: HeldOut) -> dict[str, dict] | None:
    """The casual-drawing scores grouped by how each drawing was drawn: its style, and
    whether it drew the fringe, a closed face oval through the hair, the neck (the renderer
    draws the face's edge against the hair as the fringe, the closed oval or both, so those
    two splits overlap). The choices are drawn at random for every face, so the groups hold
    alike faces. Each row carries "faces", its count."""
    if heldout.casual_choices is None or len(per_face) != len(heldout):
        return None
    groups: dict[str, list[dict]] = {}
    for row, choices in zip(per_face, heldout.casual_choices):
        keys = [f"style {choices.get('style')}"]
        keys += [f"{'with' if choices.get(flag) else 'without'} {noun}"
                 for flag, noun in CASUAL_FLAGS.items() if flag in choices]
        for key in keys:
            groups.setdefault(key, []).append(row)
    return {key: {**mean_of(rows), "faces": len(rows)} for key, rows in sorted(groups.items())}


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


def _cell(value, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _quality_lines(title: str, rows: dict[str, dict]) -> list[str]:
    lines = [f"### {title}", "",
             "| row | L1 | PSNR (dB) | SSIM | hair IoU | texture × truth | chamfer (px) | "
             "edge F1 | " + " | ".join(f"F1 {n}" for n in PART_COMPONENTS) + " |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(PART_COMPONENTS)]
    for name, row in rows.items():
        parts = " | ".join(_cell(row.get(f"{n}_edge_f1"), 3) for n in PART_COMPONENTS)
        lines.append(f"| {name} | {_cell(row['l1'], 4)} | {_cell(row['psnr'], 2)} | "
                     f"{_cell(row['ssim'], 4)} | {_cell(row.get('hair_iou'), 3)} | "
                     f"{_cell(row.get('texture_ratio'), 2)} | "
                     f"{_cell(row.get('overall_chamfer_px'), 2)} | "
                     f"{_cell(row.get('overall_edge_f1'), 3)} | {parts} |")
    return lines + [""]


def markdown(report: dict) -> str:
    lines = [f"# Evaluation of `{report['weights']}`", "",
             f"{report['count']} held-out faces from `{report['data']}`, each generated in "
             "its own true look. Fidelity: the generated face is sketched with the training "
             "extractor and compared with the detailed sketch (chamfer in px, edge F1 at 1% "
             "of the diagonal). Hair IoU: output pixels nearest the true hair colour (among "
             "the true region colours) vs the label map's hair, on faces whose hair colour "
             "differs from skin, clothes and background. Texture: high-frequency energy in "
             "skin and background, output ÷ ground truth (≤ 1.5 wanted).", ""]
    for kind, table in report["quality"].items():
        rows = {f"t = {t}": row for t, row in table.items()}
        rows.update(report["reference"])
        lines += _quality_lines(f"From {kind}", rows)
    colour_rows = {f"{kind}, t = {DEFAULT_T}": table[str(DEFAULT_T)]
                   for kind, table in report["quality"].items()}
    colour_rows.update(report["reference"])
    lines += [f"### Colour adherence (RGB distance 0..255, ≤ 12 wanted), t = {DEFAULT_T}", "",
              "| row | " + " | ".join(FIELD_REGIONS) + " |",
              "|---|" + "---|" * len(FIELD_REGIONS)]
    for name, row in colour_rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row.get(f"colour_{f}"), 1)
                                                   for f in FIELD_REGIONS) + " |")
    lines += ["", "The renderer shades every region (hair sheen, the iris's rim and pupil, the "
              "upper lip's shadow), so even the ground truth sits away from the flat requested "
              "colour. Against the ground truth's own mean colour in each region:", "",
              "| row | " + " | ".join(FIELD_REGIONS) + " |",
              "|---|" + "---|" * len(FIELD_REGIONS)]
    for name, row in colour_rows.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row.get(f"truth_colour_{f}"), 1)
                                                   for f in FIELD_REGIONS) + " |")
    for kind, worst in report["worst_colours"].items():
        lines += ["", f"Worst faces ({kind}): " + "; ".join(
            f"{field} {w['error']:.1f} (id {w['id']}, {w['colour']})"
            for field, w in worst.items() if field in FIELD_REGIONS)]
        for field, noun in NAMED_FIELDS.items():
            if f"{field}_by_name" in worst:
                w = worst[f"{field}_by_name"]
                lines.append(f"Worst named {noun} colour: {w['name']} (mean error "
                             f"{w['mean_error']:.1f} over {w['faces']} faces).")
    if report.get("stage1_casual"):
        row = report["stage1_casual"]
        lines += ["", "## Stage 1 on casual drawings", "",
                  "Chamfer distance (px) to the face's detailed sketch: of the casual drawing, "
                  "and of its refined sketch at each t (lower is better).", "",
                  "| input | " + " | ".join(k for k in row if k != "input") + " |",
                  "|---|" + "---|" * (len(row) - 1),
                  f"| {row['input']:.2f} | " + " | ".join(
                      f"{v:.2f}" for k, v in row.items() if k != "input") + " |"]
    if report.get("casual_breakdown"):
        rows = {f"{key} ({row['faces']})": row for key, row in report["casual_breakdown"].items()}
        lines += [""] + _quality_lines(f"Casual drawings by how they were drawn (t = {DEFAULT_T}; "
                                       "faces in brackets)", rows)
    if report.get("stage1_attribution"):
        lines += [""] + _quality_lines(
            f"Where casual drawings lose (t = {DEFAULT_T}): one component's feature from the "
            "detailed sketch", report["stage1_attribution"])
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
             train_data: Path | None = None, progress: bool = True) -> dict:
    pipeline = Pipeline.from_weights(weights)
    heldout = load_heldout(data_dir, count)
    if heldout.sketches.shape[1] != pipeline.size:
        raise ValueError(f"{data_dir} holds {heldout.sketches.shape[1]}² sketches; the "
                         f"weights are for {pipeline.size}²")
    average = average_face(train_data) if train_data is not None else None
    drawings = {"detailed sketches": heldout.sketches}
    if heldout.casual is not None:
        drawings["casual drawings"] = heldout.casual
    hair_close = hair_drawn_close(heldout)  # None where the manifest records no casual choices
    if hair_close is not None:
        drawings[HAIR_CLOSE] = hair_close
    quality, worst, grids, breakdown = {}, {}, [], None
    for kind, inputs in drawings.items():
        quality[kind], grid, per_face = quality_table(pipeline, heldout, inputs, progress)
        worst[kind] = worst_colours(per_face, heldout)
        if kind != HAIR_CLOSE:  # samples.png keeps one column set per drawing kind it had
            grids.append(grid)
        if inputs is heldout.casual:
            breakdown = casual_breakdown(per_face, heldout)
    report = {"weights": str(weights), "data": str(data_dir), "count": len(heldout),
              "quality": quality, "reference": reference_rows(heldout, average),
              "worst_colours": worst, "stage1_casual": stage1_table(pipeline, heldout),
              "casual_breakdown": breakdown,
              "stage1_attribution": stage1_attribution(pipeline, heldout, progress=progress),
              "robustness": robustness_table(pipeline, heldout.sketches, progress)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "eval.md").write_text(markdown(report))
    save_grid(out / "samples.png", [np.concatenate(column) for column in zip(*grids)])
    plot_robustness(report["robustness"], out / "robustness.png")
    return report
