"""Stage 2's critic: pix2pixHD's multi-scale PatchGAN discriminator.

Each scale is an N-layer PatchGAN over (sketch, face, look) returning every intermediate
feature map, so the generator can be trained with feature matching as well as LSGAN.
Scale i sees the pair downsampled i times by 3x3 average pooling. The look enters as
constant channels: the first convolution has no normalisation after it, so it can compare
the face's colours with the look asked for (a face in the wrong colours is fake).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sketch2idol.core.contract import LOOK_DIM


@dataclass(frozen=True)
class DiscriminatorConfig:
    ndf: int = 32
    layers: int = 3
    scales: int = 2
    in_channels: int = 4 + LOOK_DIM  # sketch (1) + face (3) + look (constant planes)


class PatchDiscriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        ndf = config.ndf
        stages = [nn.Sequential(nn.Conv2d(config.in_channels, ndf, 4, 2, 2),
                                nn.LeakyReLU(0.2, inplace=True))]
        width = ndf
        for i in range(1, config.layers + 1):
            previous, width = width, min(ndf * 2 ** i, 512)
            stride = 2 if i < config.layers else 1
            stages.append(nn.Sequential(nn.Conv2d(previous, width, 4, stride, 2),
                                        nn.InstanceNorm2d(width), nn.LeakyReLU(0.2, inplace=True)))
        stages.append(nn.Sequential(nn.Conv2d(width, 1, 4, 1, 2)))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features  # the last one is the patch verdict


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(config) for _ in range(config.scales))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, sketch: torch.Tensor, face: torch.Tensor, look: torch.Tensor
                ) -> list[list[torch.Tensor]]:
        planes = (look * 2.0 - 1.0)[:, :, None, None].expand(-1, -1, *sketch.shape[2:])
        x = torch.cat([sketch, face, planes], dim=1)
        outputs = []
        for i, scale in enumerate(self.scales):
            if i:
                x = self.downsample(x)
            outputs.append(scale(x))
        return outputs


def define_discriminator(config: DiscriminatorConfig = DiscriminatorConfig()
                         ) -> MultiscaleDiscriminator:
    return MultiscaleDiscriminator(config)
