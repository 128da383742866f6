"""Stage 1's face objective: teach the encoders through the generator they feed.

`train stage1 --teacher RUN --through-generator STAGE2_RUN`: a drawing (casual or detailed)
is encoded, projected on the teacher's bank and blended at `face_t` exactly as serving
does, decoded by the teacher's decoders and painted by the stage-2 run's generator in the
face's own look; the loss is the L1 between that face and the true photo, plus the
high-pass L1 inside skin and background (as stage 2's flat-detail term), plus the anchor
that keeps each clean sketch's feature at the teacher's (so the bank, re-encoded at the
end, stays where the generator learnt it). Only the encoders learn; the decoders, the
generator and the neighbour search are fixed (no gradient flows through which neighbours
are chosen or their weights: the projection is a constant of each step).

Why: distilling features (the default with --teacher) asks a casual drawing to land on its
detailed twin's feature, which it cannot say all of; what is not in the drawing then comes
back as a sharp guess. Scored on the face, the encoders learn what the generator needs.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from sketch2idol.core.contract import T_MEANING, T_RANGE_TEXT, t_outside_range
from sketch2idol.core.data.faces.labels import FLAT_REGIONS
from sketch2idol.core.errors import UserError
from sketch2idol.core.models.components import decode_components, encode_components
from sketch2idol.core.models.generator import define_generator
from sketch2idol.core.models.losses import detail_l1
from sketch2idol.core.refiner import Refiner
from sketch2idol.core.train.bank import read_run_bank
from sketch2idol.core.train.checkpoint import has_checkpoint, load_net_state


def load_frozen_generator(run_dir: Path, device: torch.device) -> torch.nn.Module:
    """The generator of the stage-2 run in `run_dir`, in eval mode, without gradients."""
    from sketch2idol.core.train.config import Stage2Config, read_config

    if not has_checkpoint(run_dir):
        raise UserError(f"--through-generator {run_dir}: no stage-2 checkpoint there")
    try:
        state, _ = load_net_state(run_dir, "G", device)
    except KeyError:
        raise UserError(f"--through-generator {run_dir}: its checkpoint holds no generator "
                        "(a stage-1 run?)") from None
    generator = define_generator(read_config(run_dir, Stage2Config).generator).to(device)
    generator.load_state_dict(state)
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    return generator.eval()


def flat_mask(labels: torch.Tensor) -> torch.Tensor:
    """uint8 label maps [B, 1, H, W] -> float [B, 1, H, W], 1 inside skin and background."""
    return sum((labels == int(label)) for label in FLAT_REGIONS).to(torch.float32)


class FaceObjective:
    """The losses of one batch scored on the painted face (see the module docstring)."""

    def __init__(self, teacher_run: Path, generator_run: Path, face_t: float,
                 flat_detail_weight: float, teacher: torch.nn.ModuleDict,
                 device: torch.device):
        try:
            ids, features = read_run_bank(teacher_run)
        except FileNotFoundError as error:
            raise UserError(f"--teacher {error}") from None
        # The projection only: the (frozen) teacher's networks are never run through it.
        self.refiner = Refiner(teacher, ids, features)
        self.generator = load_frozen_generator(Path(generator_run), device)
        self.face_t, self.flat_detail_weight = face_t, flat_detail_weight

    def refine(self, autoencoders: torch.nn.ModuleDict, drawing: torch.Tensor,
               sample_ids: list[str]) -> torch.Tensor:
        """[B, 1, H, W] drawings in [-1, 1] -> refined sketches, differentiable in the
        encoders (leave-one-out: a training face never finds its own bank entry)."""
        features = encode_components(autoencoders, drawing)
        projected, _ = self.refiner.project(features.detach().cpu().numpy(), 0.0,
                                            leave_out=list(sample_ids))
        projected = torch.from_numpy(projected).to(features.device)
        blended = self.face_t * features + (1.0 - self.face_t) * projected
        return decode_components(autoencoders, blended)

    def paint(self, autoencoders: torch.nn.ModuleDict, drawing: torch.Tensor,
              look: torch.Tensor, sample_ids: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(refined sketches, the faces painted from them), both in [-1, 1]."""
        refined = self.refine(autoencoders, drawing, sample_ids)
        return refined, self.generator(refined, look)

    def losses(self, autoencoders: torch.nn.ModuleDict, drawing: torch.Tensor,
               photo: torch.Tensor, look: torch.Tensor, labels: torch.Tensor,
               sample_ids: list[str]) -> dict[str, torch.Tensor]:
        _, face = self.paint(autoencoders, drawing, look, sample_ids)
        losses = {"face": F.l1_loss(face, photo)}
        if self.flat_detail_weight > 0:
            losses["flat"] = self.flat_detail_weight * detail_l1(face, photo, flat_mask(labels))
        return losses


def check_face_objective(config) -> None:
    """One-line refusals for a Stage1Config whose face objective cannot run."""
    if config.through_generator and not config.teacher:
        raise UserError("--through-generator teaches the encoders of a trained stage 1: "
                        "add --teacher RUN (its decoders and bank are used)")
    if t_outside_range(config.face_t):
        raise UserError(f"--face-t must lie in {T_RANGE_TEXT} ({T_MEANING}), got "
                        f"{config.face_t}")

