"""Stage 2: train the look-conditioned generator on stage-1 outputs of the training drawings.

Generator loss = lambda_gan * LSGAN + lambda_fm * discriminator feature matching +
lambda_l1 * L1 + lambda_region * region colour L1 + lambda_flat_detail * flat-region detail
L1 + lambda_part_detail * the face's parts' detail L1 (+ with a palette head,
lambda_palette * palette_loss; these read off the label maps); discriminator loss = LSGAN
on (refined sketch, real face, look) vs (refined sketch, generated face, look); with
lambda_gan and lambda_fm both 0 the discriminator is not trained or run at all (a
reconstruction-only fine-tune). The look is the face's own (its renderer parameters), so
the generator learns to paint what it is asked for. The input is refined from the face's
casual drawing with probability `casual_prob` (where the data set has them), else from its
sketch: at serving time it comes from either kind. With `train_size` below the data's size,
sketches and faces are area-downsampled first: the cheap low-resolution phase of a
resolution schedule (the generator is fully convolutional, so the same weights continue at
full size).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sketch2idol.core.contract import LOOK_FIELDS
from sketch2idol.core.data.faces.labels import (
    FIELD_REGIONS,
    FLAT_REGIONS,
    PAINTED_REGIONS,
    PART_REGIONS,
    Label,
)
from sketch2idol.core.data.loader import casual_share
from sketch2idol.core.errors import UserError
from sketch2idol.core.models.discriminator import define_discriminator
from sketch2idol.core.models.generator import define_generator
from sketch2idol.core.models.losses import (
    detail_l1,
    feature_matching_loss,
    lsgan_loss,
    paintable,
    palette_loss,
    region_colour_l1,
)
from sketch2idol.core.models.tensors import image_array, to_unit
from sketch2idol.core.train.config import Stage2Config
from sketch2idol.core.train.loop import Trainer
from sketch2idol.core.train.refined import SOURCES, RefinedPairs, build_refined_cache

PALETTE_LR_SCALE = 10.0
PALETTE_TARGETS = ("paintable", "labels")  # Stage2Config.palette_target


class Stage2Trainer(Trainer):
    title = "stage 2"
    # A weights directory ships the generator only: a fine-tune of unpacked weights
    # (`sketch2idol weights unpack`) trains a new discriminator beside it.
    FRESH_IN_FINE_TUNE = ("D",)

    def __init__(self, config: Stage2Config, device: torch.device):
        super().__init__(config, device)
        if config.palette_target not in PALETTE_TARGETS:
            raise UserError(f"palette_target must be one of {', '.join(PALETTE_TARGETS)}, got "
                            f"{config.palette_target!r}")
        self.use_discriminator = config.lambda_gan > 0 or config.lambda_feature_matching > 0
        if config.d_warmup_steps and not self.use_discriminator:
            raise UserError("--d-warmup trains the discriminator, which a run with GAN and "
                            "feature-matching weights both 0 leaves out: drop --d-warmup")
        generator = define_generator(config.generator).to(device)
        discriminator = define_discriminator(config.discriminator).to(device)
        self.nets = {"G": generator, "D": discriminator}
        betas = (0.5, 0.999)
        # A palette head learns at PALETTE_LR_SCALE x the rate: in a fine-tune it starts from
        # zero beside a trained body, and its gate must move several logits to open.
        palette = list(generator.palette.parameters()) if generator.palette is not None else []
        in_palette = {id(p) for p in palette}
        body = [p for p in generator.parameters() if id(p) not in in_palette]
        groups = [{"params": body, "lr_scale": 1.0}]
        if palette:
            groups.append({"params": palette, "lr_scale": PALETTE_LR_SCALE})
        self.optimizers = {"G": torch.optim.Adam(groups, config.lr, betas=betas),
                           "D": torch.optim.Adam(discriminator.parameters(), config.lr,
                                                 betas=betas)}
        casual_prob = casual_share(Path(config.data), config.casual_prob)
        sources = SOURCES if casual_prob else SOURCES[:1]  # ("sketch", "casual") / sketches
        build_refined_cache(Path(config.stage1), Path(config.data), config.t_values, device,
                            sources=sources)
        self.use_palette = config.generator.palette_head and config.lambda_palette > 0
        self.use_labels = (config.lambda_region > 0 or config.lambda_flat_detail > 0
                           or config.lambda_part_detail > 0 or self.use_palette)
        self.data = RefinedPairs(Path(config.data), Path(config.stage1), config.t_values,
                                 config.augment, config.seed, casual_prob=casual_prob,
                                 labels=self.use_labels)

    def dataset(self) -> RefinedPairs:
        return self.data

    def at_train_size(self, images: torch.Tensor) -> torch.Tensor:
        size = self.config.train_size
        if size is None or size == images.shape[-1]:
            return images
        return F.interpolate(images, size=(size, size), mode="area")

    def label_classes(self, labels: torch.Tensor) -> torch.Tensor:
        """One mask per label class [B, len(Label), h, w] of label maps [B, 1, H, W], at the
        train size (area-downsampled: border pixels count in part)."""
        labels = labels[:, 0].to(self.device)
        return self.at_train_size(torch.stack([labels == int(label) for label in Label],
                                              dim=1).float())

    @staticmethod
    def group_masks(classes: torch.Tensor, groups) -> torch.Tensor:
        """Masks [B, len(groups), h, w], one per group of label classes, from `classes`
        (label_classes: the classes are disjoint, so a group's mask is their sum)."""
        return torch.stack([classes[:, [int(c) for c in group]].sum(dim=1) for group in groups],
                           dim=1)

    def train_step(self, batch: dict) -> dict[str, float]:
        G, D = self.nets["G"], self.nets["D"]
        sketch = self.at_train_size(to_unit(batch["input"].to(self.device)))
        real = self.at_train_size(to_unit(batch["photo"].to(self.device)))
        look = batch["look"].to(self.device)
        warming_up = self.step < self.config.d_warmup_steps  # D alone (d_warmup_steps)
        with torch.set_grad_enabled(not warming_up):
            fake, palette = G.paint_with_palette(sketch, look)

        losses = {}
        loss_l1 = F.l1_loss(fake, real)
        loss_g = self.config.lambda_l1 * loss_l1
        if self.use_discriminator:
            d_fake = D(sketch, fake.detach(), look)
            d_real = D(sketch, real, look)
            loss_d = 0.5 * (lsgan_loss(d_fake, real=False) + lsgan_loss(d_real, real=True))
            self.optimizers["D"].zero_grad(set_to_none=True)
            loss_d.backward()
            self.optimizers["D"].step()
            losses["D"] = loss_d.item()
            if warming_up:
                return losses
            g_fake = D(sketch, fake, look)
            loss_gan = lsgan_loss(g_fake, real=True)
            loss_fm = feature_matching_loss(g_fake, [[f.detach() for f in s] for s in d_real])
            loss_g = (loss_g + self.config.lambda_gan * loss_gan
                      + self.config.lambda_feature_matching * loss_fm)
            losses.update(G_gan=loss_gan.item(), G_fm=loss_fm.item())
        extra = {}
        if self.use_labels:  # always, with a palette head
            classes = self.label_classes(batch["labels"])
            extra["G_region"] = region_colour_l1(
                fake, real, self.group_masks(classes, FIELD_REGIONS.values()))
            extra["G_flat"] = detail_l1(fake, real, self.group_masks(classes, [FLAT_REGIONS]))
            loss_g = (loss_g + self.config.lambda_region * extra["G_region"]
                      + self.config.lambda_flat_detail * extra["G_flat"])
            if self.config.lambda_part_detail > 0:
                extra["G_parts"] = detail_l1(fake, real, self.group_masks(classes, [PART_REGIONS]))
                loss_g = loss_g + self.config.lambda_part_detail * extra["G_parts"]
        if self.use_palette:
            painted = (self.group_masks(classes, [PAINTED_REGIONS[field]
                                                  for field in LOOK_FIELDS]) >= 0.5).float()
            if self.config.palette_target == "paintable":
                painted = paintable((real + 1.0) / 2.0, look, painted)
            extra["G_palette"] = palette_loss(*palette, painted, (classes >= 0.5).float())
            loss_g = loss_g + self.config.lambda_palette * extra["G_palette"]
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["G"].step()
        return {"G": loss_g.item(), **losses, "G_l1": loss_l1.item(),
                **{k: v.item() for k, v in extra.items()}}

    def sample_columns(self, batch: dict) -> list[np.ndarray]:
        refined = to_unit(batch["refined"].to(self.device))
        generated = self.nets["G"](refined, batch["look"].to(self.device))
        return [batch["drawing"][:, 0].numpy(), batch["refined"][:, 0].numpy(),
                image_array(generated), batch["photo"].permute(0, 2, 3, 1).numpy()]
