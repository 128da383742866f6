"""Stage 2: pix2pixHD's global generator, refined sketch [B, 1, H, W] -> face [B, 3, H, W].

c7s1-ngf, `downsamplings` x (conv3 stride 2, doubling channels), `blocks` residual blocks,
`downsamplings` x (transposed conv3 stride 2, halving), c7s1-3 + tanh; instance norm and
reflection padding throughout (Wang et al., CVPR 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    ngf: int = 32
    downsamplings: int = 3
    blocks: int = 6
    in_channels: int = 1
    out_channels: int = 3


def norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False)


class ResnetBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class GlobalGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        ngf = config.ngf
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(config.in_channels, ngf, 7), norm(ngf),
                  nn.ReLU(inplace=True)]
        for i in range(config.downsamplings):
            cin, cout = ngf * 2 ** i, ngf * 2 ** (i + 1)
            layers += [nn.Conv2d(cin, cout, 3, 2, 1), norm(cout), nn.ReLU(inplace=True)]
        width = ngf * 2 ** config.downsamplings
        layers += [ResnetBlock(width) for _ in range(config.blocks)]
        for i in reversed(range(config.downsamplings)):
            cin, cout = ngf * 2 ** (i + 1), ngf * 2 ** i
            layers += [nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1), norm(cout),
                       nn.ReLU(inplace=True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, config.out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        return self.model(sketch)


def define_generator(config: GeneratorConfig = GeneratorConfig()) -> GlobalGenerator:
    return GlobalGenerator(config)
