"""Stage 1: one convolutional autoencoder per component window.

crop [B, 1, s, s] -> encoder -> feature [B, 512] -> decoder -> crop [B, 1, s, s] (tanh).
The number of stride-2 stages is chosen per crop so the bottleneck grid is at most 6x6
whatever the window and the image size, which keeps the fully-connected layers (most of the
parameters) the same at 256 and 512.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from sketch2idol.core.contract import FEATURE_DIM
from sketch2idol.core.geometry import COMPONENTS, component_windows

MAX_BOTTLENECK_GRID = 6


@dataclass(frozen=True)
class AutoencoderConfig:
    feature_dim: int = FEATURE_DIM
    base_channels: int = 32
    max_channels: int = 128
    bottleneck_channels: int = 32


def downsamplings_for(crop: int) -> int:
    """Stride-2 stages that bring a `crop` x `crop` input to a grid of <= 6x6."""
    return max(1, math.ceil(math.log2(crop / MAX_BOTTLENECK_GRID)))


def conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.2, inplace=True))


class ComponentAutoencoder(nn.Module):
    def __init__(self, crop: int, config: AutoencoderConfig = AutoencoderConfig()):
        super().__init__()
        self.crop = crop
        stages = downsamplings_for(crop)
        if crop % (2 ** stages):
            raise ValueError(f"crop {crop} is not divisible by 2^{stages}")
        self.grid = crop // 2 ** stages
        # Channel widths after each stride-2 stage; nothing wider than 1 channel is ever
        # held at full resolution, which keeps the big remainder window cheap to train.
        widths = [min(config.base_channels * 2 ** i, config.max_channels) for i in range(stages)]
        bottleneck = config.bottleneck_channels
        flat = bottleneck * self.grid * self.grid

        down = [conv_block(1, widths[0], stride=2)]
        down += [conv_block(widths[i], widths[i + 1], stride=2) for i in range(stages - 1)]
        self.encoder = nn.Sequential(*down, nn.Conv2d(widths[-1], bottleneck, 1), nn.Flatten(),
                                     nn.Linear(flat, config.feature_dim))

        up = []
        for i in reversed(range(stages - 1)):
            up += [nn.Upsample(scale_factor=2, mode="nearest"),
                   conv_block(widths[i + 1], widths[i])]
        self.decoder_fc = nn.Linear(config.feature_dim, flat)
        self.decoder_conv = nn.Sequential(
            nn.LeakyReLU(0.2, inplace=True), nn.Unflatten(1, (bottleneck, self.grid, self.grid)),
            nn.Conv2d(bottleneck, widths[-1], 1), *up,
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(widths[0], 1, 3, 1, 1),
            nn.Tanh())

    def encode(self, crop: torch.Tensor) -> torch.Tensor:
        return self.encoder(crop)

    def decode(self, feature: torch.Tensor) -> torch.Tensor:
        return self.decoder_conv(self.decoder_fc(feature))

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(crop))


def define_autoencoders(size: int, config: AutoencoderConfig = AutoencoderConfig()
                        ) -> nn.ModuleDict:
    """The five component autoencoders for `size` x `size` sketches, in COMPONENTS order."""
    windows = component_windows(size)
    return nn.ModuleDict({name: ComponentAutoencoder(windows[name].size, config)
                          for name in COMPONENTS})
