"""Training losses.

- `line_weighted_l1`: stage-1 reconstruction. Sketches are ~95% white paper, so a plain
  L1 is minimised by "all white"; ink pixels of the target (and a thin band around them)
  weigh `line_weight` times more.
- `lsgan_loss` and `feature_matching_loss`: pix2pixHD's adversarial and discriminator
  feature-matching terms. The feature-matching term, over every layer of every scale of
  the discriminator, is the learned perceptual loss here: no pretrained VGG can be
  downloaded on these machines, and pix2pixHD reports that feature matching alone already
  gives most of the perceptual gain.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

INK_THRESHOLD = 0.0  # in [-1, 1] units: darker than mid-grey is ink


def line_weighted_l1(output: torch.Tensor, target: torch.Tensor,
                     line_weight: float = 10.0, band: int = 1) -> torch.Tensor:
    ink = (target < INK_THRESHOLD).to(output.dtype)
    if band > 0:
        ink = F.max_pool2d(ink, 2 * band + 1, stride=1, padding=band)
    weight = 1.0 + (line_weight - 1.0) * ink
    return (weight * (output - target).abs()).sum() / weight.sum()


def lsgan_loss(verdicts: list[list[torch.Tensor]], real: bool) -> torch.Tensor:
    """Least-squares GAN loss, averaged over the discriminator's scales."""
    target = 1.0 if real else 0.0
    return sum(F.mse_loss(scale[-1], torch.full_like(scale[-1], target))
               for scale in verdicts) / len(verdicts)


def feature_matching_loss(fake: list[list[torch.Tensor]],
                          real: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between the discriminator's intermediate features on fake and real pairs."""
    total = 0.0
    for fake_scale, real_scale in zip(fake, real):
        layers = len(fake_scale) - 1
        for fake_feature, real_feature in zip(fake_scale[:-1], real_scale[:-1]):
            total = total + F.l1_loss(fake_feature, real_feature.detach()) / layers
    return total / len(fake)
