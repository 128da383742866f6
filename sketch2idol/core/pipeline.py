"""The reference pipeline, in process: drawing -> framed sketch -> refined sketch -> face.

    pipeline = Pipeline.from_weights()            # weights/default
    result = pipeline(drawing, t=0.5)             # or t=[t_left_eye, ..., t_remainder]
    result = pipeline(drawing, t=0.5, look=resolve_look("sunset"))   # the colours to paint
    result.face, result.refined, result.neighbours, result.look

It is the oracle for the serving parity tests and the naive baseline of the benchmarks:
PyTorch eager networks, NumPy exact KNN (sketch2idol.core.manifold), one call at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sketch2idol.core.data.placement import place_drawing
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.looks import Look, check_appearance, look_vector, resolve_look
from sketch2idol.core.models.tensors import image_array, sketch_batch
from sketch2idol.core.refiner import Refiner
from sketch2idol.core.weights import DEFAULT_WEIGHTS, Weights, load_weights


@dataclass(frozen=True)
class Result:
    sketch: np.ndarray  # uint8 [S, S] the framed input
    refined: np.ndarray  # uint8 [S, S] stage-1 output
    face: np.ndarray  # uint8 [S, S, 3]
    neighbours: dict[str, list[str]]  # per component, the bank sample ids, nearest first
    look: Look  # the colours the face was painted in


def look_matrix(looks, batch: int) -> np.ndarray:
    """None (the default look), one look (dict or APPEARANCE vector) or one per sketch ->
    float32 [B, LOOK_DIM]."""
    if looks is None:
        looks = resolve_look()
    if isinstance(looks, dict):
        looks = look_vector(looks)
    if not isinstance(looks, np.ndarray) and looks and isinstance(looks[0], dict):
        looks = np.stack([look_vector(look) for look in looks])
    values = np.asarray(looks, np.float32)
    if values.ndim == 1:
        values = np.broadcast_to(values, (batch, values.shape[0]))
    problem = check_appearance(values)
    if problem is None and values.shape[0] != batch:
        problem = f"{values.shape[0]} looks for {batch} sketches"
    if problem:
        raise ValueError(problem)
    return np.array(values, np.float32)  # a writable copy: broadcasts are read-only


def t_matrix(t, batch: int) -> np.ndarray:
    """A scalar, 5 per-component values, or [B, 5] -> float32 [B, 5]. The range is checked
    by sketch2idol.core.manifold, which every projection goes through."""
    values = np.asarray(t, np.float32)
    if values.ndim == 0:
        values = np.full((batch, len(COMPONENTS)), values)
    elif values.ndim == 1:
        if values.shape != (len(COMPONENTS),):
            raise ValueError(f"t must be one number or {len(COMPONENTS)} (one per component "
                             f"{COMPONENTS}), got {values.shape[0]}")
        values = np.broadcast_to(values, (batch, len(COMPONENTS)))
    if values.shape != (batch, len(COMPONENTS)):
        raise ValueError(f"t has shape {values.shape}, expected ({batch}, {len(COMPONENTS)})")
    return values


class Pipeline:
    def __init__(self, weights: Weights):
        self.weights = weights
        self.size = weights.size
        self.refiner = Refiner(weights.autoencoders, weights.bank_ids, weights.bank_features,
                               weights.k)
        self.generator = weights.generator

    @classmethod
    def from_weights(cls, path: Path = DEFAULT_WEIGHTS, device: str = "cpu") -> Pipeline:
        return cls(load_weights(path, device))

    @torch.no_grad()
    def faces(self, refined: np.ndarray, looks=None) -> np.ndarray:
        """uint8 [B, S, S] refined sketches (+ looks, see look_matrix) -> uint8 [B, S, S, 3]."""
        device = next(self.generator.parameters()).device
        appearance = torch.from_numpy(look_matrix(looks, len(refined))).to(device)
        return image_array(self.generator(sketch_batch(refined).to(device), appearance))

    def run_batch(self, sketches: np.ndarray, t, looks=None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Framed uint8 [B, S, S] sketches -> (refined [B, S, S], faces [B, S, S, 3],
        neighbour bank rows [B, 5, K])."""
        refined, rows = self.refiner.refine(sketches, t_matrix(t, len(sketches)))
        return refined, self.faces(refined, looks), rows

    def __call__(self, drawing: np.ndarray, t=1.0, look: Look | None = None) -> Result:
        sketch = place_drawing(drawing, self.size)
        look = look if look is not None else resolve_look()
        refined, faces, rows = self.run_batch(sketch[None], t, look)
        neighbours = {name: [self.weights.bank_ids[r] for r in rows[0, c]]
                      for c, name in enumerate(COMPONENTS)}
        return Result(sketch=sketch, refined=refined[0], face=faces[0], neighbours=neighbours,
                      look=dict(look))
