"""The three served networks as self-contained graphs: uint8 in, uint8 out.

Each wrapper puts the pre- and post-processing of the reference pipeline *inside* the
network, so Triton passes raw tensors from step to step and pays no extra Python hop:

    EncodersGraph   SKETCH uint8 [B,S,S]    -> FEATURES float32 [B,5,512]
                    (normalise to [-1,1], cut the five windows, blank the remainder)
    DecodersGraph   PROJECTED float32 [B,5,512] -> REFINED_SKETCH uint8 [B,S,S]
                    (decode the five features, composite them, back to pixels)
    GeneratorGraph  REFINED_SKETCH uint8 [B,S,S], APPEARANCE float32 [B,L] in [0,1]
                    -> FACE uint8 [B,S,S,3]   (the face painted in that look)

They reuse the training code's own tensor functions (encode_components, decode_components,
to_unit, to_pixels), so the exported graphs cannot drift from the reference.

`look_probe` copies a generator with its FiLM layers randomised: an untrained generator's
FiLM projections start at zero, so its faces ignore the look and a parity check on it
cannot tell a graph that reads APPEARANCE from one that dropped it; the probe's can.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from sketch2idol.core import contract
from sketch2idol.core.models.components import decode_components, encode_components
from sketch2idol.core.models.generator import FiLMNorm
from sketch2idol.core.models.tensors import to_pixels, to_unit
from sketch2idol.core.weights import Weights

#: std of the probe's FiLM projection weights: faces in two sample looks then differ by
#: ~10 grey levels on average (interim default generator).
PROBE_SCALE = 0.05


class EncodersGraph(nn.Module):
    def __init__(self, autoencoders: nn.ModuleDict):
        super().__init__()
        self.autoencoders = autoencoders

    def forward(self, sketch: torch.Tensor) -> torch.Tensor:
        return encode_components(self.autoencoders, to_unit(sketch)[:, None])


class DecodersGraph(nn.Module):
    def __init__(self, autoencoders: nn.ModuleDict):
        super().__init__()
        self.autoencoders = autoencoders

    def forward(self, projected: torch.Tensor) -> torch.Tensor:
        return to_pixels(decode_components(self.autoencoders, projected))[:, 0]


class GeneratorGraph(nn.Module):
    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, refined: torch.Tensor, appearance: torch.Tensor) -> torch.Tensor:
        face = self.generator(to_unit(refined)[:, None], appearance)
        return to_pixels(face).permute(0, 2, 3, 1)


@dataclass(frozen=True)
class NetworkGraph:
    """One exportable network: its module and the contract tensors it maps (its inputs in
    the contract's order, which is also the order of the module's arguments)."""

    name: str
    module: nn.Module
    inputs: tuple[contract.TensorSpec, ...]
    output: contract.TensorSpec

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    def example(self, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
        """Random inputs of the right dtypes and shapes (for tracing and smoke checks); an
        APPEARANCE is drawn inside LOOK_RANGE, as a served one must be."""
        generator = torch.Generator().manual_seed(seed)
        examples = []
        for spec in self.inputs:
            shape = (batch, *spec.dims)
            if spec.datatype == "UINT8":
                examples.append(torch.randint(0, 256, shape, dtype=torch.uint8,
                                              generator=generator))
            elif spec.name == contract.APPEARANCE:
                low, high = contract.LOOK_RANGE
                examples.append(low + (high - low) * torch.rand(shape, generator=generator))
            else:
                examples.append(torch.randn(shape, generator=generator))
        return tuple(examples)

    def __call__(self, *inputs) -> torch.Tensor:
        """The module on NumPy or torch inputs (in input_names order)."""
        with torch.no_grad():
            return self.module(*(torch.as_tensor(x) for x in inputs))


def ignores_look(generator: nn.Module) -> bool:
    """True when every FiLM projection is zero (an untrained generator): the look cannot
    change a face."""
    return all(not film.to_scale_shift.weight.any() and not film.to_scale_shift.bias.any()
               for film in generator.modules() if isinstance(film, FiLMNorm))


def look_probe(generator: nn.Module, seed: int = 0, scale: float = PROBE_SCALE) -> nn.Module:
    """A copy of `generator` whose every FiLM layer responds to the look (projection weights
    drawn from N(0, scale²), seeded); the original is left alone."""
    probe = copy.deepcopy(generator).eval()
    films = [module for module in probe.modules() if isinstance(module, FiLMNorm)]
    if not films:
        raise ValueError("the generator has no FiLM layer: it cannot take a look")
    draw = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for film in films:
            weight = film.to_scale_shift.weight
            weight.copy_(scale * torch.randn(weight.shape, generator=draw))
    return probe


def generator_graph(generator: nn.Module, size: int) -> NetworkGraph:
    """The served generator graph of any generator module (e.g. a look_probe)."""
    spec = contract.model_specs(size, 1)[contract.GENERATOR]
    (output_spec,) = spec.outputs
    return NetworkGraph(contract.GENERATOR, GeneratorGraph(generator).eval(), spec.inputs,
                        output_spec)


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
        (output_spec,) = specs[name].outputs
        graphs[name] = NetworkGraph(name, module.eval(), specs[name].inputs, output_spec)
    return graphs
