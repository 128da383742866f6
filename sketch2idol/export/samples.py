"""Real inputs for parity checks and int8 calibration, run through the torch reference.

Random tensors say little about a sketch network (and nothing about the KNN step), so
export re-renders procedural faces (the renderer is deterministic): held-out faces (seed 1,
never trained on) for parity, the first training faces (seed 0) for calibration. Each is
pushed through the reference pipeline once, giving every network's real input and the
output it must reproduce.

Each sketch is painted in a look of its own (`sample_looks`): the named looks a request
gets by name, interleaved with random looks from the training distribution, so a parity
gate or a calibration pass sees the generator's look path at many points, not one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketch2idol.core import contract
from sketch2idol.core.data.synth import render_sample
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.looks import NAMED_LOOKS, look_vector, named_look, random_look
from sketch2idol.core.pipeline import Pipeline

TRAINING_SEED = 0
HELDOUT_SEED = 1
PARITY_T = (1.0, 0.5, 0.0)
#: random_look seeds of the sample looks start here (apart from the faces' own seeds).
LOOK_SEED_BASE = 7_000


@dataclass(frozen=True)
class ChainSamples:
    """Every contract tensor of a batch, as the PyTorch reference computes it."""

    tensors: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.tensors[contract.SKETCH])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.tensors[name]

    def inputs(self, model: str, rows: slice = slice(None)) -> dict[str, np.ndarray]:
        """The reference inputs of a served model by contract name: a feed for its graph."""
        return {name: self.tensors[name][rows] for name in contract.MODEL_IO[model][0]}


def render_sketches(seed: int, count: int, size: int) -> np.ndarray:
    """uint8 [count, size, size]: the sketches of procedural faces 0..count-1 of `seed`."""
    return np.stack([render_sample(seed, index, size)[2] for index in range(count)])


def sample_looks(count: int, seed: int = HELDOUT_SEED) -> np.ndarray:
    """float32 [count, LOOK_DIM] APPEARANCE rows: even rows the named looks in turn (sorted
    by name), odd rows random looks from the training distribution (seeded by `seed`)."""
    names = sorted(NAMED_LOOKS)
    looks = [named_look(names[(i // 2) % len(names)]) if i % 2 == 0
             else random_look(LOOK_SEED_BASE + 1_000 * seed + i) for i in range(count)]
    rows = [look_vector(look) for look in looks]
    return np.stack(rows) if rows else np.zeros((0, contract.LOOK_DIM), np.float32)


def reference_chain(pipeline: Pipeline, sketches: np.ndarray, t_values=PARITY_T,
                    looks: np.ndarray | None = None) -> ChainSamples:
    """Run sketches through the reference, cycling the master t over `t_values`; sketch i
    is painted in looks[i] (APPEARANCE rows; default: sample_looks(len(sketches)))."""
    master = np.resize(np.asarray(t_values, np.float32), len(sketches))
    t = np.repeat(master[:, None], len(COMPONENTS), axis=1)
    appearance = sample_looks(len(sketches)) if looks is None else \
        np.asarray(looks, np.float32)
    refiner = pipeline.refiner
    features = refiner.encode(sketches)
    projected, neighbours = refiner.project(features, t)
    refined = refiner.decode(projected)
    return ChainSamples({
        contract.SKETCH: sketches, contract.T: t, contract.FEATURES: features,
        contract.PROJECTED: projected, contract.NEIGHBORS: neighbours,
        contract.REFINED_SKETCH: refined, contract.APPEARANCE: appearance,
        contract.FACE: pipeline.faces(refined, appearance)})
