"""Stage 2: a pix2pixHD-style global generator painted in a chosen look.

    face = generator(sketch [B, 1, H, W] in [-1, 1], look [B, LOOK_DIM] in [0, 1])

c7s1-ngf, `downsamplings` x (conv3 stride 2, doubling channels), `blocks` residual blocks,
`downsamplings` x (nearest resize x2 + conv3, halving), c7s1-3 + tanh; reflection padding
throughout (Wang et al., CVPR 2018), with two changes:

- **The look enters through every normalisation (FiLM).** Each instance norm is followed by
  a per-channel scale and shift computed from the look by a small MLP (Perez et al., AAAI
  2018). A look fed as constant input channels does nothing here: instance norm subtracts
  a constant channel's contribution exactly (measured: output change <= 1.5e-5).
- **Resize + convolution instead of strided transposed convolution** to upsample: no
  checkerboard texture (Odena et al., Distill 2016), and every convolution is a plain Conv
  that onnxruntime can quantise to int8.

With `palette_head`, a third change: the look's colours reach the output directly. A small
head on the last features predicts, per pixel, a gate, a choice among the look's colour
fields and an RGB gain; the face is the free RGB head's output where the gate is closed and
the chosen look colour times the gain where it is open. FiLM alone learns a brown-to-blue
axis for the iris and paints green, violet or pink irises off-hue (weights/default/
README.md); through the palette every requested colour is on the path to the pixels, and
training supervises the gate and the choice with the label map (losses.palette_loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from sketch2idol.core.contract import LOOK_CHANNELS, LOOK_DIM


@dataclass(frozen=True)
class GeneratorConfig:
    ngf: int = 24
    downsamplings: int = 3
    blocks: int = 6
    in_channels: int = 1
    out_channels: int = 3
    look_dim: int = LOOK_DIM
    look_hidden: int = 128  # width of the look MLP's embedding
    palette_head: bool = False  # paint look regions in the look's own colours (PaletteHead)
    # Side (px, odd; 0 = none) of the box filter over the palette's colour-field logits: a
    # choice that flips between two fields in patches becomes one smooth blend (PaletteHead).
    palette_smoothing: int = 0

    def __post_init__(self):
        if self.palette_smoothing < 0 or (self.palette_smoothing and
                                          self.palette_smoothing % 2 == 0):
            raise ValueError(f"palette_smoothing must be 0 or an odd side in pixels, not "
                             f"{self.palette_smoothing}")


class LookEmbedding(nn.Module):
    """look [B, look_dim] in [0, 1] -> embedding [B, hidden], shared by every FiLM layer."""

    def __init__(self, look_dim: int, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(look_dim, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.ReLU(inplace=True))

    def forward(self, look: torch.Tensor) -> torch.Tensor:
        return self.mlp(look * 2.0 - 1.0)


class FiLMNorm(nn.Module):
    """Instance norm, then x * (1 + scale) + shift with (scale, shift) from the embedding.

    The projection starts at zero, so an untrained FiLMNorm is a plain instance norm."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.to_scale_shift = nn.Linear(hidden, 2 * channels)
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.to_scale_shift(embedding)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1.0 + scale) + shift


class ConvNormReLU(nn.Module):
    """[resize x2] -> pad -> conv -> FiLM norm -> ReLU: one stage of the encoder/decoder."""

    def __init__(self, cin: int, cout: int, kernel: int, hidden: int, *, stride: int = 1,
                 upsample: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest")] if upsample \
            else []
        if stride == 1:
            layers += [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel)]
        else:
            layers += [nn.Conv2d(cin, cout, kernel, stride, kernel // 2)]
        self.conv = nn.Sequential(*layers)
        self.norm = FiLMNorm(cout, hidden)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x), embedding))


class ResnetBlock(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.first = ConvNormReLU(channels, channels, 3, hidden)
        self.conv = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3))
        self.norm = FiLMNorm(channels, hidden)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return x + self.norm(self.conv(self.first(x, embedding)), embedding)


#: The gain's range is (0, MAX_GAIN): shading darkens a look colour or lightens it up to 3x
#: (e.g. a hair highlight); at initialisation the gain is 1.
MAX_GAIN = 3.0
GATE_INIT_BIAS = -4.0  # an untrained palette is nearly shut: the free head paints


class PaletteHead(nn.Module):
    """features [B, C, H, W] -> (gate logit [B, 1, H, W], colour-field logits [B, F, H, W],
    gain [B, 3, H, W]).

    The last convolution starts at zero, so an untrained head leaves the face to the free
    head (gate sigmoid(-4) = 0.018), with uniform field choice and unit gain.

    With `smoothing` > 1, the field logits are box-filtered over smoothing x smoothing pixels
    (edge-replicated borders; no parameters): where a region's colour is ambiguous (a casual
    drawing's unclear hair or collar) the choice blends smoothly instead of flipping between
    two flat colours in patches, while a confident choice (a large logit margin) keeps its
    edge. The gate is left sharp: it carries the drawn lines."""

    def __init__(self, channels: int, fields: int, smoothing: int = 0):
        super().__init__()
        self.fields = fields
        self.smoothing = smoothing
        # Per-pixel (1x1) layers: the features already see far; at full resolution every
        # MAC counts (these stay fp32 in the int8 export, precision.full_resolution_layers).
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, 1 + fields + 3, 1))
        last = self.body[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        with torch.no_grad():
            last.bias[0] = GATE_INIT_BIAS

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.body(x)
        gate, fields, gain = out.split((1, self.fields, 3), dim=1)
        gain = MAX_GAIN * torch.sigmoid(gain - math.log(MAX_GAIN - 1.0))
        return gate, box_filter(fields, self.smoothing), gain


def box_filter(x: torch.Tensor, side: int) -> torch.Tensor:
    """The mean of each side x side neighbourhood of x [B, C, H, W], borders replicated
    (ONNX: Pad mode=edge + AveragePool, both kept in fp32 by the int8 export); side <= 1
    returns x."""
    if side <= 1:
        return x
    pad = side // 2
    return F.avg_pool2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), side, stride=1)


def paint(free: torch.Tensor, look: torch.Tensor, gate: torch.Tensor, fields: torch.Tensor,
          gain: torch.Tensor) -> torch.Tensor:
    """The face in [-1, 1]: the free head's `free` [B, 3, H, W] blended by sigmoid(gate)
    towards the look's colours (look [B, F * 3] in [0, 1]) weighted by softmax(fields),
    times `gain`."""
    colours = look.view(look.shape[0], -1, LOOK_CHANNELS)  # [B, F, 3]
    # softmax over the fields written out, normalised after the mix (3 channels, not F):
    # onnxruntime runs Softmax on axis 1 of NCHW through transposes, 3x (batch 1) to 9x
    # (batch 8) slower than these element-wise ops at 256^2 ("Where the time goes",
    # BENCHMARKS.md)
    weights = torch.exp(fields - fields.amax(dim=1, keepdim=True))
    chosen = (torch.einsum("bfhw,bfc->bchw", weights, colours)
              / weights.sum(dim=1, keepdim=True))
    painted = (chosen * gain).clamp(0.0, 1.0) * 2.0 - 1.0
    return free + torch.sigmoid(gate) * (painted - free)


class GlobalGenerator(nn.Module):
    #: Modules a fine-tune (`--init-from` a run without them) may add: they start fresh.
    ADDED_IN_FINE_TUNE = ("palette.",)

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        ngf, hidden = config.ngf, config.look_hidden
        self.look_dim = config.look_dim
        self.embed = LookEmbedding(config.look_dim, hidden)
        stages: list[nn.Module] = [ConvNormReLU(config.in_channels, ngf, 7, hidden)]
        for i in range(config.downsamplings):
            stages.append(ConvNormReLU(ngf * 2 ** i, ngf * 2 ** (i + 1), 3, hidden, stride=2))
        width = ngf * 2 ** config.downsamplings
        stages += [ResnetBlock(width, hidden) for _ in range(config.blocks)]
        for i in reversed(range(config.downsamplings)):
            stages.append(ConvNormReLU(ngf * 2 ** (i + 1), ngf * 2 ** i, 3, hidden,
                                       upsample=True))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, config.out_channels, 7),
                                  nn.Tanh())
        self.palette = PaletteHead(ngf, config.look_dim // LOOK_CHANNELS,
                                   config.palette_smoothing) if config.palette_head else None

    def features(self, sketch: torch.Tensor, look: torch.Tensor) -> torch.Tensor:
        embedding = self.embed(look)
        x = sketch
        for stage in self.stages:
            x = stage(x, embedding)
        return x

    def forward(self, sketch: torch.Tensor, look: torch.Tensor) -> torch.Tensor:
        return self.paint_with_palette(sketch, look)[0]

    def paint_with_palette(self, sketch: torch.Tensor, look: torch.Tensor
                           ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """(face [B, 3, H, W] in [-1, 1], (gate logit, colour-field logits) or None without
        a palette head): the logits are what training supervises with the label map."""
        x = self.features(sketch, look)
        free = self.head(x)
        if self.palette is None:
            return free, None
        gate, fields, gain = self.palette(x)
        return paint(free, look, gate, fields, gain), (gate, fields)


def define_generator(config: GeneratorConfig = GeneratorConfig()) -> GlobalGenerator:
    return GlobalGenerator(config)
