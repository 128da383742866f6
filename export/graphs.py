"""The three served networks as self-contained graphs: uint8 in, uint8 out.

Each wrapper puts the pre- and post-processing of the reference pipeline *inside* the
network, so Triton passes raw tensors from step to step and pays no extra Python hop:

    EncodersGraph   SKETCH uint8 [B,S,S]    -> FEATURES float32 [B,5,512]
                    (normalise to [-1,1], cut the five windows, blank the remainder)
    DecodersGraph   PROJECTED float32 [B,5,512] -> REFINED_SKETCH uint8 [B,S,S]
                    (decode the five features, composite them, back to pixels)
    GeneratorGraph  REFINED_SKETCH uint8 [B,S,S] -> FACE uint8 [B,S,S,3]

They reuse the training code's own tensor functions (crop_components, composite,
to_unit, to_pixels), so the exported graphs cannot drift from the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sketch2idol import contract
from sketch2idol.geometry import COMPONENTS
from sketch2idol.models.components import composite, crop_components
from sketch2idol.models.tensors import to_pixels, to_unit
from sketch2idol.weights import Weights


class EncodersGraph(nn.Module):
    def __init__(self, autoencoders: nn.ModuleDict):
        super().__init__()
        self.autoencoders = autoencoders

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        crops = crop_components(to_unit(sketch)[:, None])
        return torch.stack([self.autoencoders[name].encode(crops[name]) for name in COMPONENTS],
                           dim=1)


class DecodersGraph(nn.Module):
    def __init__(self, autoencoders: nn.ModuleDict):
        super().__init__()
        self.autoencoders = autoencoders

    def forward(self, projected: torch.Tensor) -> torch.Tensor:
        decoded = {name: self.autoencoders[name].decode(projected[:, c])
                   for c, name in enumerate(COMPONENTS)}
        return to_pixels(composite(decoded))[:, 0]


class GeneratorGraph(nn.Module):
    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, refined: torch.Tensor) -> torch.Tensor:
        face = self.generator(to_unit(refined)[:, None])
        return to_pixels(face).permute(0, 2, 3, 1)


@dataclass(frozen=True)
class NetworkGraph:
    """One exportable network: its module and the contract tensors it maps."""

    name: str
    module: nn.Module
    input: contract.TensorSpec
    output: contract.TensorSpec

    def example(self, batch: int = 2, seed: int = 0) -> torch.Tensor:
        """A random input of the right dtype and shape (for tracing and smoke checks)."""
        generator = torch.Generator().manual_seed(seed)
        shape = (batch, *self.input.dims)
        if self.input.datatype == "UINT8":
            return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
        return torch.randn(shape, generator=generator)


def network_graphs(weights: Weights) -> dict[str, NetworkGraph]:
    """The three exportable networks of a weights directory, keyed by served model name."""
    specs = contract.model_specs(weights.size, weights.k)
    modules = {
        contract.ENCODERS: EncodersGraph(weights.autoencoders),
        contract.DECODERS: DecodersGraph(weights.autoencoders),
        contract.GENERATOR: GeneratorGraph(weights.generator),
    }
    graphs = {}
    for name, module in modules.items():
        (input_spec,), (output_spec,) = specs[name].inputs, specs[name].outputs
        graphs[name] = NetworkGraph(name, module.eval(), input_spec, output_spec)
    return graphs
