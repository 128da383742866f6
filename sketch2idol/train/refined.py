"""The sketches stage 2 learns from: stage-1 outputs of the training sketches.

For every training sketch and every t in the run's `t_values`, the refined sketch is
computed once (leave-one-out: a sketch is never projected onto its own bank entry, or
t = 0 would just give it back) and cached as PNG under `<stage1 run>/refined/t<t*100>/`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sketch2idol.data import dataset
from sketch2idol.data.augment import augment_rng
from sketch2idol.data.loader import FacePairs
from sketch2idol.refiner import Refiner
from sketch2idol.train.bank import BANK_NAME, read_bank
from sketch2idol.train.stage1 import load_autoencoders

REFINED_DIR = "refined"


def refined_dir(stage1_run: Path, t: float) -> Path:
    return Path(stage1_run) / REFINED_DIR / f"t{round(t * 100):03d}"


def refined_path(stage1_run: Path, t: float, sample_id: str) -> Path:
    return refined_dir(stage1_run, t) / f"{sample_id}.png"


def load_refiner(stage1_run: Path, device: torch.device) -> Refiner:
    bank_path = Path(stage1_run) / BANK_NAME
    if not bank_path.exists():
        raise FileNotFoundError(f"{stage1_run} has no {BANK_NAME}: finish `train stage1` first")
    ids, features = read_bank(bank_path)
    return Refiner(load_autoencoders(stage1_run, device), ids, features)


def build_refined_cache(stage1_run: Path, data_dir: Path, t_values, device: torch.device,
                        batch_size: int = 32, progress: bool = True) -> int:
    """Write every missing refined sketch; returns how many were written."""
    ids = [row["id"] for row in dataset.read_manifest(data_dir)]
    todo = [(t, i) for t in t_values for i in ids if not refined_path(stage1_run, t, i).exists()]
    if not todo:
        return 0
    refiner = load_refiner(stage1_run, device)
    for t in t_values:
        refined_dir(stage1_run, t).mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(todo), desc="refining training sketches", unit="sketch",
               disable=not progress)
    pending = sorted({sample_id for _, sample_id in todo})
    for start in range(0, len(pending), batch_size):
        chunk = pending[start:start + batch_size]
        sketches = np.stack([dataset.read_grey(dataset.sketch_path(data_dir, i)) for i in chunk])
        features = refiner.encode(sketches)  # once per batch, whatever the number of t values
        for t in t_values:
            blended, _ = refiner.project(features, t, leave_out=chunk)
            for sample_id, image in zip(chunk, refiner.decode(blended)):
                path = refined_path(stage1_run, t, sample_id)
                if not path.exists():
                    dataset.write_png(path, image)
                    bar.update()
    bar.close()
    return len(todo)


class RefinedPairs(torch.utils.data.Dataset):
    """(refined sketch at a random t, augmented) -> photo pairs for stage 2.

    Each sample is the data set's own (FacePairs: id, sketch, photo, look) plus "refined", the
    cached stage-1 output, and "input", that output augmented: the generator's input.
    """

    def __init__(self, data_dir: Path, stage1_run: Path, t_values, augment, seed: int):
        self.pairs = FacePairs(Path(data_dir), looks=True)
        self.stage1_run = Path(stage1_run)
        self.t_values, self.augment, self.seed = tuple(t_values), augment, seed

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        sample = self.pairs[key]
        rng = augment_rng(self.seed, epoch, index)
        t = self.t_values[int(rng.integers(len(self.t_values)))]
        refined = dataset.read_grey(refined_path(self.stage1_run, t, sample["id"]))
        augmented = self.augment(refined, rng) if self.augment is not None else refined
        sample["refined"] = torch.from_numpy(refined)[None]
        sample["input"] = torch.from_numpy(np.ascontiguousarray(augmented))[None]
        return sample
