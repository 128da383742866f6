"""The serving contract: model names, tensor names, dtypes and shapes, defined once.

Export writes the ONNX graphs and Triton configs from these, the Triton Python models read
and write these tensors, the gateway and perf_analyzer input files use these names, and
the Kubernetes manifests are checked against them. Nothing here imports torch.

    SKETCH (UINT8 [S,S]) ─► encoders ─► FEATURES [5,D]
    T (FP32 [5]) ──────────► manifold_projection ─► PROJECTED [5,D], NEIGHBORS (INT64 [5,K]),
                                                      PROJECTION_VERSION (INT64 [1])
                           ─► decoders ─► REFINED_SKETCH (UINT8 [S,S])
    APPEARANCE (FP32 [L]) ─► generator ─► FACE (UINT8 [S,S,3])

Shapes are per request; every model also has a leading, dynamic batch axis.
PROJECTION_VERSION is the manifold_projection version (its feature bank) that answered:
NEIGHBORS rows index that version's bank, which a hot swap can grow
(sketch2idol/export/bank_version.py).

APPEARANCE is the look the face is painted in: LOOK_FIELDS colours, RGB each, in that
order, every channel in [0, 1] (0..255 divided by 255); sketch2idol.core.looks converts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketch2idol.core.geometry import COMPONENTS

FEATURE_DIM = 512

#: The look (appearance code): the colours a drawing does not say, in this order.
#: background2 is the second colour of a gradient background (= background: flat).
LOOK_FIELDS = ("hair", "skin", "eyes", "lips", "clothes", "background", "background2")
LOOK_CHANNELS = 3  # RGB per field
LOOK_DIM = len(LOOK_FIELDS) * LOOK_CHANNELS
#: Every APPEARANCE value lies in this closed range (RGB / 255).
LOOK_RANGE = (0.0, 1.0)
#: Every T value (the blend of one component) lies in this closed range: 1 keeps the
#: drawing, 0 snaps it to the learned faces.
T_RANGE = (0.0, 1.0)
#: What T means, and its range as every refusal writes it.
T_MEANING = "1 keeps the drawing, 0 snaps to the learned faces"
T_RANGE_TEXT = f"[{T_RANGE[0]:g}, {T_RANGE[1]:g}]"


def t_outside_range(t):
    """Elementwise: True where a T value is outside T_RANGE or not a number (NumPy arrays or
    floats)."""
    t = np.asarray(t, np.float64)
    return ~((t >= T_RANGE[0]) & (t <= T_RANGE[1]))  # NaN compares false: outside

#: Default ports: Triton's HTTP, gRPC and metrics endpoints, and the gateway's (page + API).
TRITON_HTTP_PORT = 8000
TRITON_GRPC_PORT = 8001
TRITON_METRICS_PORT = 8002
GATEWAY_PORT = 8080

ENSEMBLE = "sketch2face"
ENCODERS = "encoders"
PROJECTION = "manifold_projection"
DECODERS = "decoders"
GENERATOR = "generator"
#: Composing models in pipeline order.
COMPOSING_MODELS = (ENCODERS, PROJECTION, DECODERS, GENERATOR)
#: The composing models that are exported ONNX networks (the projection is FAISS + NumPy).
NETWORK_MODELS = (ENCODERS, DECODERS, GENERATOR)

SKETCH = "SKETCH"
T = "T"
FEATURES = "FEATURES"
PROJECTED = "PROJECTED"
NEIGHBORS = "NEIGHBORS"
PROJECTION_VERSION = "PROJECTION_VERSION"
REFINED_SKETCH = "REFINED_SKETCH"
APPEARANCE = "APPEARANCE"
FACE = "FACE"

#: Files of a manifold_projection version directory that are read outside the projection
#: model too: the JSON list of the bank's sample ids, row for row (NEIGHBORS value r names
#: sample ids[r]: the gateway's neighbor_ids); what the rows were made from (the bank data
#: set's dataset.json: kind, seed, size, renderer_version...); and, for a procedural bank,
#: the drawing guide's sketches, uint8 [M, side, side], grey lines on white, row r the
#: detailed sketch of sample ids[r], downsampled (written by sketch2idol/export/guides.py,
#: averaged by the gateway; absent when the bank's sketches cannot be redrawn).
BANK_IDS_FILE = "bank_ids.json"
TRAINING_DATA = "training_data.json"
GUIDE_SKETCHES = "guide_sketches.npy"

#: Triton datatype name -> NumPy dtype (the names tritonclient and config.pbtxt use).
NUMPY_DTYPES = {"UINT8": np.uint8, "FP32": np.float32, "INT64": np.int64}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str  # Triton datatype name: UINT8, FP32, INT64
    dims: tuple[int, ...]  # per request, without the batch axis

    @property
    def numpy_dtype(self) -> type:
        return NUMPY_DTYPES[self.datatype]

    @property
    def config_type(self) -> str:
        """The DataType enum name in config.pbtxt (TYPE_UINT8, ...)."""
        return f"TYPE_{self.datatype}"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def tensor(self, name: str) -> TensorSpec:
        for spec in self.inputs + self.outputs:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.name} has no tensor {name}")


def tensor_specs(size: int, k: int) -> dict[str, TensorSpec]:
    """Every contract tensor for images of size x size and K neighbours per component."""
    components = len(COMPONENTS)
    return {spec.name: spec for spec in (
        TensorSpec(SKETCH, "UINT8", (size, size)),
        TensorSpec(T, "FP32", (components,)),
        TensorSpec(FEATURES, "FP32", (components, FEATURE_DIM)),
        TensorSpec(PROJECTED, "FP32", (components, FEATURE_DIM)),
        TensorSpec(NEIGHBORS, "INT64", (components, k)),
        TensorSpec(PROJECTION_VERSION, "INT64", (1,)),
        TensorSpec(REFINED_SKETCH, "UINT8", (size, size)),
        TensorSpec(APPEARANCE, "FP32", (LOOK_DIM,)),
        TensorSpec(FACE, "UINT8", (size, size, 3)),
    )}


#: model -> (input names, output names); the ensemble's steps wire these by name.
MODEL_IO = {
    ENCODERS: ((SKETCH,), (FEATURES,)),
    PROJECTION: ((FEATURES, T), (PROJECTED, NEIGHBORS, PROJECTION_VERSION)),
    DECODERS: ((PROJECTED,), (REFINED_SKETCH,)),
    GENERATOR: ((REFINED_SKETCH, APPEARANCE), (FACE,)),
    ENSEMBLE: ((SKETCH, T, APPEARANCE), (FACE, REFINED_SKETCH, NEIGHBORS, PROJECTION_VERSION)),
}


def model_specs(size: int, k: int) -> dict[str, ModelSpec]:
    """ModelSpec of every served model (the four composing models and the ensemble)."""
    tensors = tensor_specs(size, k)
    return {name: ModelSpec(name, tuple(tensors[i] for i in inputs),
                            tuple(tensors[o] for o in outputs))
            for name, (inputs, outputs) in MODEL_IO.items()}
