"""Training losses.

- `line_weighted_l1`: stage-1 reconstruction. Sketches are ~95% white paper, so a plain
  L1 is minimised by "all white"; ink pixels of the target (and a thin band around them)
  weigh `line_weight` times more.
- `lsgan_loss` and `feature_matching_loss`: pix2pixHD's adversarial and discriminator
  feature-matching terms. The feature-matching term, over every layer of every scale of
  the discriminator, is the learned perceptual loss here: no pretrained VGG can be
  downloaded on these machines, and pix2pixHD reports that feature matching alone already
  gives most of the perceptual gain.
- `region_colour_l1`: per label-map region (hair, skin, iris, lips, ...), the L1 between the
  output's and the truth's mean colour there. Each region counts the same whatever its size,
  so the iris and the lips (a few hundred pixels of 65,536) weigh as much as the background:
  a plain L1 leaves their colours to chance.
- `detail_l1`: the L1 between output and truth high-pass detail inside a mask: in the flat
  regions (skin, background), where the truth is smooth, it punishes noise and checkerboard;
  in the face's parts (eyes, brows, nose, mouth) it asks for their lines.
- `palette_loss`: with the generator's palette head, cross-entropies that teach its gate and
  colour-field choice the label map (which pixels are painted in which look colour);
  `paintable` narrows the label map's regions to the pixels a look colour times a gain
  really paints (not the pupil inside the iris, nor the outlines counted with a region).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sketch2idol.core.models.generator import MAX_GAIN

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


MIN_REGION_AREA = 4.0  # pixels: smaller regions (e.g. an iris at 128² of a small face) skip


def region_means(image: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor,
                                                                     torch.Tensor]:
    """(mean colour [B, R, C] of `image` [B, C, H, W] inside each of `masks` [B, R, H, W],
    region areas [B, R])."""
    area = masks.sum(dim=(2, 3))
    sums = torch.einsum("bchw,brhw->brc", image, masks)
    return sums / area.clamp_min(1.0)[..., None], area


def region_colour_l1(output: torch.Tensor, target: torch.Tensor,
                     masks: torch.Tensor) -> torch.Tensor:
    output_means, area = region_means(output, masks)
    target_means, _ = region_means(target, masks)
    present = (area >= MIN_REGION_AREA).to(output.dtype)
    errors = (output_means - target_means).abs().mean(dim=2)
    return (errors * present).sum() / present.sum().clamp_min(1.0)


def high_pass(image: torch.Tensor) -> torch.Tensor:
    return image - F.avg_pool2d(image, 3, stride=1, padding=1, count_include_pad=False)


def detail_l1(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """`mask`: [B, 1, H, W] weights, 1 inside the regions compared."""
    difference = (high_pass(output) - high_pass(target)).abs().mean(dim=1, keepdim=True)
    return (difference * mask).sum() / mask.sum().clamp_min(1.0)


#: `paintable`: the least gain a look colour may be scaled by and still count as painting a
#: pixel (the renderer's iris ring is the iris colour x 0.55, its pupil x 0.28: the pupil is
#: left to the free head; the most is the palette head's own MAX_GAIN), and the largest RGB
#: distance (0..1 units) from the scaled colour.
PAINT_MIN_GAIN = 0.45
PAINT_TOLERANCE = 0.12


def paintable(photo: torch.Tensor, look: torch.Tensor, painted: torch.Tensor) -> torch.Tensor:
    """`painted` [B, F, H, W] (1 where the label map says field f's colour is painted) kept
    only where the truth `photo` [B, 3, H, W] in [0, 1] is that colour (look [B, F * 3] in
    [0, 1]) times a gain in [PAINT_MIN_GAIN, MAX_GAIN], within PAINT_TOLERANCE. A label
    class covers its outlines and the iris its pupil: painted in the look colour they come
    out as smudges of it, and the gate learns to leave them to the free head."""
    colours = look.view(look.shape[0], painted.shape[1], -1)  # [B, F, 3]
    along = torch.einsum("bchw,bfc->bfhw", photo, colours)
    gain = (along / (colours ** 2).sum(dim=2).clamp_min(1e-4)[..., None, None]).clamp(
        PAINT_MIN_GAIN, MAX_GAIN)
    residual = photo[:, None] - gain[:, :, None] * colours[..., None, None]  # [B, F, 3, H, W]
    return painted * (residual.norm(dim=2) <= PAINT_TOLERANCE).to(painted.dtype)


def palette_loss(gate: torch.Tensor, fields: torch.Tensor, painted: torch.Tensor,
                 classes: torch.Tensor) -> torch.Tensor:
    """How well the palette head (generator.PaletteHead) reads the label map: per pixel, the
    binary cross-entropy of the gate logit [B, 1, H, W] against "painted in a look colour",
    plus, where painted, the cross-entropy of the colour-field logits [B, F, H, W] against
    the fields that paint the pixel (`painted` [B, F, H, W], 1 where field f's colour is
    painted; several fields may share a pixel, choosing any of them is right). Averaged per
    label class (`classes` [B, C, H, W], one mask per class), every class that is present
    counting alike, as in `region_colour_l1`: the iris and the lips (a few hundred pixels)
    weigh as much as the background, or the head learns them last."""
    inside = painted.amax(dim=1, keepdim=True)
    gate_term = F.binary_cross_entropy_with_logits(gate, inside, reduction="none")
    log_choice = torch.log_softmax(fields, dim=1).masked_fill(painted < 0.5, -1e4)
    field_term = -torch.logsumexp(log_choice, dim=1, keepdim=True) * inside
    per_class, area = region_means(gate_term + field_term, classes)
    present = (area >= MIN_REGION_AREA).to(per_class.dtype)
    return (per_class[..., 0] * present).sum() / present.sum().clamp_min(1.0)
