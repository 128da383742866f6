"""Stage 1: train the five component autoencoders, then encode the feature bank.

Each autoencoder reconstructs its window of the *augmented* sketch (shifted, rotated,
re-stroked, with strokes missing: what people draw), with the line-weighted L1. After the
last step every clean training sketch is encoded into the feature bank (`bank.npz`): the
manifold that projection snaps to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

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


class Stage1Trainer(Trainer):
    title = "stage 1"

    def __init__(self, config: Stage1Config, device: torch.device):
        super().__init__(config, device)
        self.data = FacePairs(Path(config.data), sketch_augment=config.augment, seed=config.seed)
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

    def dataset(self) -> FacePairs:
        return self.data

    def reconstruct(self, sketch: torch.Tensor
                    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(component crops, their reconstructions) of a [B, 1, H, W] sketch in [-1, 1]."""
        crops = crop_components(sketch)
        return crops, {name: self.autoencoders[name](crops[name]) for name in COMPONENTS}

    def train_step(self, batch: dict) -> dict[str, float]:
        sketch = to_unit(batch["sketch"].to(self.device))
        crops, decoded = self.reconstruct(sketch)
        losses = {name: line_weighted_l1(decoded[name], crops[name], self.config.line_weight)
                  for name in COMPONENTS}
        total = sum(losses.values())
        optimizer = self.optimizers["autoencoders"]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return {"total": total.item(), **{name: loss.item() for name, loss in losses.items()}}

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
