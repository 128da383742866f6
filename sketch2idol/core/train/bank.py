"""The feature bank: every clean training sketch encoded, per component, with its id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sketch2idol.core.data.loader import FacePairs
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.models.components import encode_components
from sketch2idol.core.models.tensors import to_unit

BANK_NAME = "bank.npz"


@torch.no_grad()
def encode_sketches(autoencoders: torch.nn.ModuleDict, sketches: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 1, H, W] sketches -> features [B, C, D] in geometry.COMPONENTS order."""
    return encode_components(autoencoders, to_unit(sketches))


@torch.no_grad()
def encode_dataset(autoencoders: torch.nn.ModuleDict, data_dir: Path, device: torch.device,
                   batch_size: int = 64, progress: bool = True) -> tuple[list[str], np.ndarray]:
    data = FacePairs(data_dir, photos=False)
    autoencoders.eval()
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    features = []
    for batch in tqdm(loader, desc="encoding feature bank", unit="batch", disable=not progress):
        features.append(encode_sketches(autoencoders, batch["sketch"].to(device)).cpu().numpy())
    return data.ids, np.concatenate(features).astype(np.float32)


def write_bank(run_dir: Path, autoencoders: torch.nn.ModuleDict, data_dir: Path,
               device: torch.device) -> Path:
    ids, features = encode_dataset(autoencoders, data_dir, device)
    return save_bank(Path(run_dir) / BANK_NAME, ids, features)


def save_bank(path: Path, ids: list[str], features: np.ndarray) -> Path:
    """Write sample ids [M] and their features [M, C, D] (COMPONENTS order) for read_bank."""
    np.savez(path, ids=np.array(ids), features=features, components=np.array(COMPONENTS))
    return Path(path)


def read_run_bank(run_dir: Path) -> tuple[list[str], np.ndarray]:
    """read_bank of the stage-1 run in `run_dir`; FileNotFoundError naming the run if it
    has not written its bank yet."""
    path = Path(run_dir) / BANK_NAME
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} has no {BANK_NAME}: finish `train stage1` first")
    return read_bank(path)


def read_bank(path: Path) -> tuple[list[str], np.ndarray]:
    """(sample ids [M], features [M, C, D]) of a bank written by write_bank."""
    with np.load(path) as bank:
        if tuple(bank["components"]) != COMPONENTS:
            raise ValueError(f"{path}: bank components {tuple(bank['components'])} do not "
                             f"match {COMPONENTS}")
        return [str(i) for i in bank["ids"]], bank["features"]
