"""The ensemble's inputs for a batch, over HTTP or gRPC, for the serving tests: the
product's own builder (`core.faces_request.ensemble_inputs`), HTTP by default.
"""

from __future__ import annotations

import numpy as np
import tritonclient.http as httpclient

from sketch2idol.core import faces_request


def ensemble_inputs(sketches: np.ndarray, t: np.ndarray, looks: np.ndarray,
                    module=httpclient) -> list:
    """SKETCH [B, S, S] uint8, T [B, 5] and APPEARANCE [B, LOOK_DIM] as `module`'s InferInputs
    (tritonclient.http or tritonclient.grpc)."""
    return faces_request.ensemble_inputs(sketches, t, looks, module)
