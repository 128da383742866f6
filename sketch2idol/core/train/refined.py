"""The sketches stage 2 learns from: stage-1 outputs of the training drawings.

For every training sketch (and, where the data set has them, every casual drawing) and
every t in the run's `t_values`, the refined sketch is computed once (leave-one-out: a
drawing is never projected onto its own face's bank entry, or t = 0 would just give the
sketch back) and cached as PNG under `<stage1 run>/refined/t<t*100>/` (from sketches) and
`<stage1 run>/refined/casual/t<t*100>/` (from casual drawings).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sketch2idol.core.data import dataset
from sketch2idol.core.data.augment import augment_rng
from sketch2idol.core.data.loader import FacePairs, take_drawing
from sketch2idol.core.refiner import Refiner
from sketch2idol.core.train.bank import read_run_bank
from sketch2idol.core.train.stage1 import load_autoencoders

REFINED_DIR = "refined"


#: What a refined sketch is refined from: the data set's file kind (dataset.SYNTH_FILES).
SOURCES = ("sketch", "casual")


def refined_dir(stage1_run: Path, t: float, source: str = "sketch") -> Path:
    root = Path(stage1_run) / REFINED_DIR
    return (root if source == "sketch" else root / source) / f"t{round(t * 100):03d}"


def refined_path(stage1_run: Path, t: float, sample_id: str, source: str = "sketch") -> Path:
    return refined_dir(stage1_run, t, source) / f"{sample_id}.png"


def load_refiner(stage1_run: Path, device: torch.device) -> Refiner:
    ids, features = read_run_bank(stage1_run)
    return Refiner(load_autoencoders(stage1_run, device), ids, features)


def build_refined_cache(stage1_run: Path, data_dir: Path, t_values, device: torch.device,
                        sources=("sketch",), batch_size: int = 32, progress: bool = True) -> int:
    """Write every missing refined sketch of the drawings of each kind in `sources`;
    returns how many were written."""
    ids = [row["id"] for row in dataset.read_manifest(data_dir)]
    todo = [(source, t, i) for source in sources for t in t_values for i in ids
            if not refined_path(stage1_run, t, i, source).exists()]
    if not todo:
        return 0
    refiner = load_refiner(stage1_run, device)
    bar = tqdm(total=len(todo), desc="refining training drawings", unit="drawing",
               disable=not progress)
    for source in sources:
        for t in t_values:
            refined_dir(stage1_run, t, source).mkdir(parents=True, exist_ok=True)
        pending = sorted({i for kind, _, i in todo if kind == source})
        for start in range(0, len(pending), batch_size):
            chunk = pending[start:start + batch_size]
            drawings = np.stack([dataset.read_grey(dataset.sample_path(data_dir, source, i))
                                 for i in chunk])
            features = refiner.encode(drawings)  # once per batch, whatever the t values
            for t in t_values:
                blended, _ = refiner.project(features, t, leave_out=chunk)
                for sample_id, image in zip(chunk, refiner.decode(blended)):
                    path = refined_path(stage1_run, t, sample_id, source)
                    if not path.exists():
                        dataset.write_png(path, image)
                        bar.update()
    bar.close()
    return len(todo)


class RefinedPairs(torch.utils.data.Dataset):
    """(refined drawing at a random t, augmented) -> photo pairs for stage 2.

    Each sample is the data set's own (FacePairs: id, sketch, photo, look, labels) plus
    "drawing", what was refined (the casual drawing with probability `casual_prob`, else
    the sketch), "refined", the cached stage-1 output, and "input", that output augmented:
    the generator's input.
    """

    def __init__(self, data_dir: Path, stage1_run: Path, t_values, augment, seed: int,
                 casual_prob: float = 0.0, labels: bool = False):
        self.pairs = FacePairs(Path(data_dir), looks=True, casual=casual_prob > 0,
                               labels=labels)
        self.stage1_run = Path(stage1_run)
        self.t_values, self.augment, self.seed = tuple(t_values), augment, seed
        self.casual_prob = casual_prob

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        sample = self.pairs[key]
        rng = augment_rng(self.seed, epoch, index)
        t = self.t_values[int(rng.integers(len(self.t_values)))]
        sample["drawing"], from_casual = take_drawing(sample, rng, self.casual_prob)
        source = "casual" if from_casual else "sketch"
        refined = dataset.read_grey(refined_path(self.stage1_run, t, sample["id"], source))
        augmented = self.augment(refined, rng) if self.augment is not None else refined
        sample["refined"] = torch.from_numpy(refined)[None]
        sample["input"] = torch.from_numpy(np.ascontiguousarray(augmented))[None]
        return sample
