"""Stage 1: train the five component autoencoders, then encode the feature bank.

Two objectives (after the last step of either, every clean training sketch is encoded
into the feature bank, `bank.npz`):

- **reconstruction** (default): each autoencoder takes its window of a drawing and decodes
  the face's clean detailed sketch there, with the line-weighted L1. The drawing is the
  detailed sketch augmented (shifted, rotated, re-stroked, with strokes missing) or, with
  probability `casual_prob`, the face's casual drawing.
- **the face** (`teacher` and `through_generator`, a stage-2 run): only the encoders
  learn, so that the face the frozen generator paints from the refined drawing matches the
  true photo (train/through_generator.py); the anchor keeps clean sketches where the
  teacher put them.
- **encoder distillation** (`teacher`: a run trained the first way): only the encoders
  learn, so that a drawing (the casual drawing with probability `casual_prob`, else the
  augmented sketch) encodes to the feature the teacher's encoder gives the face's clean
  detailed sketch. The decoders are the teacher's, untouched: a casual drawing lands next
  to its detailed twin on the manifold the projection snaps to, and decodes as sharply as
  the twin does. (Reconstruction from casual drawings cannot do this: a casual drawing
  does not say where the detailed sketch's strands and lashes go, and under L1 a blank
  window is the best guess; the decoders went blank within 100 steps.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from sketch2idol.core.data.augment import augment_rng
from sketch2idol.core.data.dataset import read_info
from sketch2idol.core.data.loader import FacePairs, casual_share, take_drawing
from sketch2idol.core.errors import UserError
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.models.autoencoder import define_autoencoders
from sketch2idol.core.models.components import composite, crop_components
from sketch2idol.core.models.losses import line_weighted_l1
from sketch2idol.core.models.tensors import image_array, to_unit
from sketch2idol.core.train.bank import write_bank
from sketch2idol.core.train.checkpoint import has_checkpoint, load_net_state
from sketch2idol.core.train.config import Stage1Config, read_config
from sketch2idol.core.train.loop import Trainer
from sketch2idol.core.train.through_generator import FaceObjective, check_face_objective


class DrawingPairs(Dataset):
    """(augmented drawing, clean detailed sketch) pairs: "sketch" is the drawing the encoders
    see, "clean_sketch" the target; "from_casual" says which kind the drawing is. The choice
    and the augmentation come from augment_rng(seed, epoch, index) alone."""

    def __init__(self, root: Path, augment, seed: int, casual_prob: float,
                 faces: bool = False):
        self.casual_prob = casual_prob
        # faces: also the photo, look and label map (the face objective scores on them)
        self.pairs = FacePairs(root, photos=faces, looks=faces, labels=faces,
                               casual=casual_prob > 0)
        self.augment, self.seed = augment, seed

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        sample = self.pairs[key]
        rng = augment_rng(self.seed, epoch, index)
        drawing, from_casual = take_drawing(sample, rng, self.casual_prob)
        drawing = drawing[0].numpy()
        if self.augment is not None:
            drawing = self.augment(drawing, rng)
        sample["sketch"] = torch.from_numpy(np.ascontiguousarray(drawing))[None]
        sample["from_casual"] = torch.tensor(from_casual)
        return sample


class Stage1Trainer(Trainer):
    title = "stage 1"

    def __init__(self, config: Stage1Config, device: torch.device):
        super().__init__(config, device)
        check_face_objective(config)
        # Scored against the photo, a drawing must stay where the face is: no augmentation.
        self.data = DrawingPairs(Path(config.data),
                                 None if config.through_generator else config.augment,
                                 config.seed, casual_share(Path(config.data), config.casual_prob),
                                 faces=bool(config.through_generator))
        data_size = int(read_info(Path(config.data))["size"])
        if config.size not in (None, data_size):
            raise ValueError(f"config size {config.size} but {config.data} holds {data_size}² "
                             "sketches")
        config.size = self.size = data_size
        autoencoders = define_autoencoders(self.size, config.autoencoder).to(device)
        self.nets = {"autoencoders": autoencoders}
        self.teacher = None
        trained = list(autoencoders.parameters())
        if config.teacher:
            self.teacher = load_teacher(Path(config.teacher), config, device)
            autoencoders.load_state_dict(self.teacher.state_dict())
            trained = [p for name in config.taught_components
                       for p in autoencoders[name].encoder.parameters()]
        elif tuple(config.taught_components) != COMPONENTS:
            raise UserError("--taught-components picks the encoders a distillation trains: "
                            "add --teacher RUN")
        # What the optimizer does not hold stays as it is: no gradient is computed for it.
        held = {id(p) for p in trained}
        for parameter in autoencoders.parameters():
            parameter.requires_grad_(id(parameter) in held)
        self.face = None
        if config.through_generator:
            self.face = FaceObjective(Path(config.teacher), Path(config.through_generator),
                                      config.face_t, config.flat_detail_weight, self.teacher,
                                      device)
        self.optimizers = {"autoencoders": torch.optim.Adam(trained, lr=config.lr,
                                                            betas=(0.9, 0.999))}

    def train_mode(self) -> None:
        super().train_mode()
        if self.teacher is not None:
            # A student keeps the teacher's batch-norm statistics: it starts as the teacher
            # exactly, and what it learns is in its weights alone (batch statistics would
            # move with the mix of casual and detailed inputs it is shown).
            for module in self.autoencoders.modules():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.eval()

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

    def losses(self, drawing: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
               ) -> dict[str, torch.Tensor]:
        if self.teacher is None:
            return {name: line_weighted_l1(self.autoencoders[name](drawing[name]), target[name],
                                           self.config.line_weight) for name in COMPONENTS}
        losses = {}
        # The face objective replaces the features' distillation, or keeps it at a weight.
        weight = 1.0 if self.face is None else self.config.feature_weight
        if weight == 0 and self.config.anchor_weight == 0:
            return losses  # the face alone: the teacher's features are not needed
        for name in COMPONENTS:
            with torch.no_grad():
                twin = self.teacher[name].encode(target[name])
            encoder = self.autoencoders[name].encode
            # Relative to the features' own spread, so that the five components weigh alike.
            spread = twin.var().clamp_min(1e-6)
            if weight > 0:
                losses[name] = weight * F.mse_loss(encoder(drawing[name]), twin) / spread
            if self.config.anchor_weight > 0:
                losses[f"{name}_anchor"] = (self.config.anchor_weight
                                            * F.mse_loss(encoder(target[name]), twin) / spread)
        return losses

    def train_step(self, batch: dict) -> dict[str, float]:
        whole = to_unit(batch["sketch"].to(self.device))
        drawing = crop_components(whole)
        target = crop_components(to_unit(batch["clean_sketch"].to(self.device)))
        losses = self.losses(drawing, target)
        if self.face is not None:
            losses.update(self.face.losses(
                self.autoencoders, whole, to_unit(batch["photo"].to(self.device)),
                batch["look"].to(self.device), batch["labels"].to(self.device), batch["id"]))
        total = sum(losses.values())
        optimizer = self.optimizers["autoencoders"]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        return {"total": total.item(),
                **{name: loss.item() for name, loss in losses.items()}}

    def sample_columns(self, batch: dict) -> list[np.ndarray]:
        if self.face is not None:  # drawing, refined drawing, its face, the true photo
            drawing = to_unit(batch["sketch"].to(self.device))
            refined, face = self.face.paint(self.autoencoders, drawing,
                                            batch["look"].to(self.device), batch["id"])
            return [image_array(drawing), image_array(refined), image_array(face),
                    batch["photo"].permute(0, 2, 3, 1).numpy()]
        augmented = to_unit(batch["sketch"].to(self.device))
        clean = to_unit(batch["clean_sketch"].to(self.device))
        _, decoded = self.reconstruct(augmented)
        _, decoded_clean = self.reconstruct(clean)
        return [image_array(augmented), image_array(composite(decoded)), image_array(clean),
                image_array(composite(decoded_clean))]

    def finish(self, run_dir: Path) -> None:
        write_bank(Path(run_dir), self.autoencoders, Path(self.config.data), self.device)


def load_teacher(run_dir: Path, config: Stage1Config, device: torch.device
                 ) -> torch.nn.ModuleDict:
    """The frozen autoencoders of the teacher run (same size and architecture)."""
    if not has_checkpoint(run_dir):
        raise UserError(f"--teacher {run_dir}: no stage-1 checkpoint there")
    taught = read_config(run_dir, Stage1Config)
    if (taught.size, taught.autoencoder) != (config.size, config.autoencoder):
        raise UserError(f"--teacher {run_dir}: its autoencoders ({taught.size}², "
                        f"{taught.autoencoder}) differ from this run's ({config.size}², "
                        f"{config.autoencoder})")
    teacher = load_autoencoders(run_dir, device)
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher


def load_autoencoders(run_dir: Path, device: torch.device) -> torch.nn.ModuleDict:
    """The trained autoencoders of a stage-1 run directory, in eval mode."""
    run_dir = Path(run_dir)
    config = read_config(run_dir, Stage1Config)
    autoencoders = define_autoencoders(config.size, config.autoencoder).to(device)
    autoencoders.load_state_dict(load_net_state(run_dir, "autoencoders", device)[0])
    return autoencoders.eval()
