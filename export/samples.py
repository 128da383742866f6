"""Real inputs for parity checks and int8 calibration, run through the torch reference.

Random tensors say little about a sketch network (and nothing about the KNN step), so
export re-renders procedural faces (the renderer is deterministic): held-out faces (seed 1,
never trained on) for parity, the first training faces (seed 0) for calibration. Each is
pushed through the reference pipeline once, giving every network's real input and the
output it must reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketch2idol import contract
from sketch2idol.data.synth import render_sample
from sketch2idol.geometry import COMPONENTS
from sketch2idol.pipeline import Pipeline

TRAINING_SEED = 0
HELDOUT_SEED = 1
PARITY_T = (1.0, 0.5, 0.0)


@dataclass(frozen=True)
class ChainSamples:
    """Every contract tensor of a batch, as the PyTorch reference computes it."""

    tensors: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.tensors[contract.SKETCH])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.tensors[name]


def render_sketches(seed: int, count: int, size: int) -> np.ndarray:
    """uint8 [count, size, size]: the sketches of procedural faces 0..count-1 of `seed`."""
    return np.stack([render_sample(seed, index, size)[2] for index in range(count)])


def reference_chain(pipeline: Pipeline, sketches: np.ndarray,
                    t_values=PARITY_T) -> ChainSamples:
    """Run sketches through the reference, cycling the master t over `t_values`."""
    master = np.resize(np.asarray(t_values, np.float32), len(sketches))
    t = np.repeat(master[:, None], len(COMPONENTS), axis=1)
    refiner = pipeline.refiner
    features = refiner.encode(sketches)
    projected, neighbours = refiner.project(features, t)
    refined = refiner.decode(projected)
    return ChainSamples({
        contract.SKETCH: sketches, contract.T: t, contract.FEATURES: features,
        contract.PROJECTED: projected, contract.NEIGHBORS: neighbours,
        contract.REFINED_SKETCH: refined, contract.FACE: pipeline.faces(refined)})
