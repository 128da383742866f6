"""Stage 1 in one object: encode the five components, project onto the bank, decode.

    refiner = Refiner(autoencoders, bank_ids, bank_features)
    refined, neighbour_ids = refiner.refine(sketches_uint8, t)

Used by stage-2 training (to make the refined sketches the generator learns from), by the
reference pipeline and by evaluation. The projection is `sketch2idol.core.manifold`, the same
oracle the served FAISS model is tested against.
"""

from __future__ import annotations

import numpy as np
import torch

from sketch2idol.core import manifold
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.models.components import decode_components
from sketch2idol.core.models.tensors import image_array
from sketch2idol.core.train.bank import encode_sketches


class Refiner:
    def __init__(self, autoencoders: torch.nn.ModuleDict, bank_ids: list[str],
                 bank_features: np.ndarray, k: int = manifold.DEFAULT_K):
        self.autoencoders = autoencoders.eval()
        self.bank_ids = list(bank_ids)
        self.row_of = {sample_id: row for row, sample_id in enumerate(self.bank_ids)}
        self.banks = [np.ascontiguousarray(bank_features[:, c]) for c in range(len(COMPONENTS))]
        self.k = k

    @property
    def device(self) -> torch.device:
        return next(self.autoencoders.parameters()).device

    @torch.no_grad()
    def encode(self, sketches: np.ndarray) -> np.ndarray:
        """uint8 [B, H, W] -> features [B, C, D]."""
        batch = torch.from_numpy(np.ascontiguousarray(sketches))[:, None].to(self.device)
        return encode_sketches(self.autoencoders, batch).cpu().numpy()

    @torch.no_grad()
    def decode(self, features: np.ndarray) -> np.ndarray:
        """features [B, C, D] -> refined sketches uint8 [B, H, W]."""
        tensor = torch.from_numpy(np.asarray(features, np.float32)).to(self.device)
        return image_array(decode_components(self.autoencoders, tensor))

    def project(self, features: np.ndarray, t: np.ndarray | float,
                leave_out: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """features [B, C, D], t scalar / [C] / [B, C] -> (blended features [B, C, D],
        neighbour bank rows [B, C, K]). `leave_out` names each sample's own bank id so that
        a training sketch is not projected onto itself."""
        t = np.broadcast_to(np.asarray(t, np.float32), features.shape[:2])
        exclude = None
        if leave_out is not None:
            exclude = np.array([self.row_of.get(sample_id, -1) for sample_id in leave_out])
        # A bank smaller than K (a smoke-test run) uses every row it can.
        k = min(self.k, len(self.bank_ids) - (0 if exclude is None else 1))
        return manifold.project_components(features, self.banks, t, k, exclude=exclude)

    def refine(self, sketches: np.ndarray, t: np.ndarray | float,
               leave_out: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [B, H, W] sketches -> (refined uint8 [B, H, W], neighbour bank rows
        [B, C, K]); see `project` for `t` and `leave_out`."""
        blended, ids = self.project(self.encode(sketches), t, leave_out)
        return self.decode(blended), ids
