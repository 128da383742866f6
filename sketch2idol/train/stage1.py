"""Stage 1: train the five component autoencoders, then encode the feature bank.

Each autoencoder takes its window of a *drawing* and decodes the face's clean **detailed**
sketch there, with the line-weighted L1. The drawing is, with probability `casual_prob`,
the face's casual drawing (what a person draws in ten seconds), else its detailed sketch;
either is augmented (shifted, rotated, re-stroked, with strokes missing). A casual
drawing's feature is also pulled towards its detailed twin's (`feature_weight`), so that it
lands near it on the manifold the projection snaps to. After the last step every clean
training sketch is encoded into the feature bank (`bank.npz`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from sketch2idol.data import dataset
from sketch2idol.data.augment import augment_rng
from sketch2idol.data.dataset import read_info
from sketch2idol.data.loader import FacePairs
from sketch2idol.geometry import COMPONENTS
from sketch2idol.models.autoencoder import define_autoencoders
from sketch2idol.models.components import composite, crop_components
from sketch2idol.models.losses import line_weighted_l1
from sketch2idol.models.tensors import image_array, to_unit
from sketch2idol.train.bank import write_bank
from sketch2idol.train.checkpoint import load_net_state
from sketch2idol.train.config import Stage1Config, read_config
from sketch2idol.train.loop import Trainer


def has_casual_drawings(root: Path) -> bool:
    rows = dataset.read_manifest(root)
    return bool(rows) and dataset.casual_path(root, rows[0]["id"]).exists()


class DrawingPairs(Dataset):
    """(augmented drawing, clean detailed sketch) pairs: "sketch" is the drawing the encoders
    see, "clean_sketch" the target; "from_casual" says which kind the drawing is. The choice
    and the augmentation come from augment_rng(seed, epoch, index) alone."""

    def __init__(self, root: Path, augment, seed: int, casual_prob: float):
        self.casual_prob = casual_prob
        self.pairs = FacePairs(root, photos=False, casual=casual_prob > 0)
        self.augment, self.seed = augment, seed

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        sample = self.pairs[key]
        rng = augment_rng(self.seed, epoch, index)
        from_casual = self.casual_prob > 0 and rng.random() < self.casual_prob
        drawing = (sample.pop("casual") if from_casual else sample["clean_sketch"])[0].numpy()
        sample.pop("casual", None)
        if self.augment is not None:
            drawing = self.augment(drawing, rng)
        sample["sketch"] = torch.from_numpy(np.ascontiguousarray(drawing))[None]
        sample["from_casual"] = torch.tensor(from_casual)
        return sample


class Stage1Trainer(Trainer):
    title = "stage 1"

    def __init__(self, config: Stage1Config, device: torch.device):
        super().__init__(config, device)
        casual_prob = config.casual_prob if has_casual_drawings(Path(config.data)) else 0.0
        if config.casual_prob and not casual_prob:
            print(f"note: {config.data} holds no casual drawings; training on detailed "
                  "sketches only (re-run `sketch2idol data synth` to add them)")
        self.data = DrawingPairs(Path(config.data), config.augment, config.seed, casual_prob)
        data_size = int(read_info(Path(config.data))["size"])
        if config.size not in (None, data_size):
            raise ValueError(f"config size {config.size} but {config.data} holds {data_size}² "
                             "sketches")
        config.size = self.size = data_size
        autoencoders = define_autoencoders(self.size, config.autoencoder).to(device)
        self.nets = {"autoencoders": autoencoders}
        self.optimizers = {"autoencoders": torch.optim.Adam(autoencoders.parameters(),
                                                            lr=config.lr, betas=(0.9, 0.999))}

    @property
    def autoencoders(self) -> torch.nn.ModuleDict:
        return self.nets["autoencoders"]

    def dataset(self) -> DrawingPairs:
        return self.data

    def reconstruct(self, sketch: torch.Tensor
                    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(component crops, their reconstructions) of a [B, 1, H, W] sketch in [-1, 1]."""
        crops = crop_components(sketch)
        return crops, {name: self.autoencoders[name](crops[name]) for name in COMPONENTS}

    def train_step(self, batch: dict) -> dict[str, float]:
        drawing = crop_components(to_unit(batch["sketch"].to(self.device)))
        target = crop_components(to_unit(batch["clean_sketch"].to(self.device)))
        casual = batch["from_casual"].to(self.device)
        losses, pulls = {}, []
        for name in COMPONENTS:
            autoencoder = self.autoencoders[name]
            feature = autoencoder.encode(drawing[name])
            losses[name] = line_weighted_l1(autoencoder.decode(feature), target[name],
                                            self.config.line_weight)
            if casual.any() and self.config.feature_weight > 0:
                with torch.no_grad():
                    twin = autoencoder.encode(target[name][casual])
                scale = twin.pow(2).mean().clamp_min(1e-6)
                pulls.append(F.mse_loss(feature[casual], twin) / scale)
        total = sum(losses.values())
        pull = sum(pulls) / len(pulls) if pulls else torch.zeros((), device=self.device)
        total = total + self.config.feature_weight * pull
        optimizer = self.optimizers["autoencoders"]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return {"total": total.item(), "pull": pull.item(),
                **{name: loss.item() for name, loss in losses.items()}}

    def sample_columns(self, batch: dict) -> list[np.ndarray]:
        augmented = to_unit(batch["sketch"].to(self.device))
        clean = to_unit(batch["clean_sketch"].to(self.device))
        _, decoded = self.reconstruct(augmented)
        _, decoded_clean = self.reconstruct(clean)
        return [image_array(augmented), image_array(composite(decoded)), image_array(clean),
                image_array(composite(decoded_clean))]

    def finish(self, run_dir: Path) -> None:
        write_bank(Path(run_dir), self.autoencoders, Path(self.config.data), self.device)


def load_autoencoders(run_dir: Path, device: torch.device) -> torch.nn.ModuleDict:
    """The trained autoencoders of a stage-1 run directory, in eval mode."""
    run_dir = Path(run_dir)
    config = read_config(run_dir, Stage1Config)
    autoencoders = define_autoencoders(config.size, config.autoencoder).to(device)
    autoencoders.load_state_dict(load_net_state(run_dir, "autoencoders", device)[0])
    return autoencoders.eval()
