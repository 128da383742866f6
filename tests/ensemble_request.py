"""The ensemble's inputs for a batch, over HTTP or gRPC: one builder for the serving tests.

Datatypes come from the contract's tensor specs, so a test never retypes them.
"""

from __future__ import annotations

import numpy as np
import tritonclient.http as httpclient

from sketch2idol import contract


def ensemble_inputs(sketches: np.ndarray, t: np.ndarray, looks: np.ndarray,
                    module=httpclient) -> list:
    """SKETCH [B, S, S] uint8, T [B, 5] and APPEARANCE [B, LOOK_DIM] as `module`'s InferInputs
    (tritonclient.http or tritonclient.grpc)."""
    specs = contract.tensor_specs(sketches.shape[-1], k=1)
    inputs = []
    for name, value in ((contract.SKETCH, sketches), (contract.T, t),
                        (contract.APPEARANCE, looks)):
        tensor = module.InferInput(name, list(value.shape), specs[name].datatype)
        tensor.set_data_from_numpy(np.ascontiguousarray(value, specs[name].numpy_dtype))
        inputs.append(tensor)
    return inputs
