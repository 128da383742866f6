"""The gateway's one connection to Triton: async gRPC, a deadline per call, retries.

    triton = TritonLink(settings)          # one gRPC channel, reused by every request
    outputs = await triton.sketch2face(sketches, t, appearance)   # APPEARANCE: the looks
    await triton.ready()                   # True when sketch2face is ready

UNAVAILABLE (Triton restarting, not listening yet) is retried with exponential backoff
inside the call's deadline; when the deadline or the retries run out the caller gets a
503 ApiError with Retry-After, never a hang. Triton's own refusals of a request
(INVALID_ARG: t out of range, bad shapes) become 422; anything else 502.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc.aio as grpcclient
from pydantic import BaseModel, ConfigDict, Field
from tritonclient.utils import InferenceServerException

from sketch2idol.core import contract
from sketch2idol.core.faces_request import ensemble_inputs
from sketch2idol.gateway.errors import ApiError, unavailable
from sketch2idol.gateway.settings import Settings

BACKOFF_START_S = 0.1
#: gRPC's default reconnect backoff grows to 120 s, so a gateway would notice a restarted
#: Triton minutes late; cap it at 1 s. Passing channel_args replaces tritonclient's own, so
#: its unlimited message sizes are restated.
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", 2**31 - 1),
    ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
#: UNAVAILABLE: Triton not listening (yet); NOT_FOUND: a stopping Triton unloading its
#: models (seen during rolling restarts; the k8s manifests make clients reconnect often).
RETRYABLE = ("StatusCode.UNAVAILABLE", "StatusCode.NOT_FOUND")
TIMED_OUT = ("StatusCode.DEADLINE_EXCEEDED",)
REFUSED = ("StatusCode.INVALID_ARGUMENT",)


class ModelIdentity(BaseModel):
    """Which model answered, as a response reports it (JSON `model`, X-Model-Version) and the
    OpenAPI document describes it: one definition for both (every field is in every answer:
    required in the document)."""

    model_config = ConfigDict(frozen=True, extra="forbid",
                              json_schema_serialization_defaults_required=True)

    name: str = Field(description=f"the served ensemble ({contract.ENSEMBLE})")
    version: str = Field(description="the ensemble's version")
    weights_id: str = Field(description="the weights the model repository was exported from")
    precision: str = Field(description="the export's precision, e.g. fp32, fp16, int8")
    network_precision: str = Field("", description="what each network is served in, e.g. "
                                   "encoders:fp32,decoders:int8,generator:int8 (an int8 export "
                                   "keeps the encoders fp32); empty when the repository does "
                                   "not say (exported before it did)")
    runtime: str = Field(description="the export's runtime, e.g. python-ort, tensorrt")
    projection_version: str = Field("", description=f"the {contract.PROJECTION} version "
                                    "(feature bank) that answered; empty when not known (a "
                                    "repository without the output)")


class ServedModel(ModelIdentity):
    """The served ensemble as the gateway reads it from Triton: its identity (the ensemble's
    version and the export's identity parameters; per answer, `answered_by`, the
    manifold_projection version whose bank was used) and what the gateway needs to call it."""

    size: int  # the SKETCH side the ensemble takes
    takes_look: bool = True  # the ensemble has the APPEARANCE input (exported with looks)

    def answered_by(self, projection_version: int | None) -> ServedModel:
        """This model with the projection version one answer came from."""
        return self.model_copy(update={"projection_version": "" if projection_version is None
                                       else str(projection_version)})

    def header(self) -> str:
        projection = f" projection={self.projection_version}" if self.projection_version else ""
        networks = f" networks={self.network_precision}" if self.network_precision else ""
        return (f"{self.name}/{self.version} weights={self.weights_id} "
                f"precision={self.precision}{networks} runtime={self.runtime}{projection}")

    def as_dict(self) -> dict[str, str]:
        """What a response says about its model: the ModelIdentity fields."""
        return self.model_dump(include=set(ModelIdentity.model_fields))


@dataclass(frozen=True)
class Sketch2FaceResult:
    face: np.ndarray  # uint8 [B, S, S, 3]
    refined: np.ndarray  # uint8 [B, S, S]
    neighbors: np.ndarray  # int64 [B, 5, K] bank rows
    seconds: float
    projection_version: int | None = None  # the bank the rows index (None: not reported)


class TritonLink:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.client = grpcclient.InferenceServerClient(settings.triton_grpc,
                                                       channel_args=CHANNEL_ARGS)
        self._identity: ServedModel | None = None

    async def close(self) -> None:
        await self.client.close()

    async def ready(self) -> bool:
        try:
            return bool(await self.client.is_model_ready(contract.ENSEMBLE,
                                                         client_timeout=2.0))
        except InferenceServerException:
            self._identity = None  # Triton restarted or gone: re-read on the next call
            return False

    async def identity(self) -> ServedModel:
        """Read once per Triton (re-read after a failure): ensemble version and parameters."""
        if self._identity is None:
            try:
                metadata = await self.client.get_model_metadata(
                    contract.ENSEMBLE, as_json=True, client_timeout=2.0)
                config = (await self.client.get_model_config(
                    contract.ENSEMBLE, as_json=True, client_timeout=2.0))["config"]
            except InferenceServerException as error:
                raise translate(error, 2.0) from None
            sketch = next(i for i in metadata["inputs"] if i["name"] == contract.SKETCH)
            parameters = {key: value.get("string_value", "")
                          for key, value in config.get("parameters", {}).items()}
            versions = metadata.get("versions") or ["?"]
            self._identity = ServedModel(
                name=contract.ENSEMBLE, version=str(max(versions, key=str)),
                weights_id=parameters.get("weights_id", "unknown"),
                precision=parameters.get("precision", "unknown"),
                network_precision=parameters.get("network_precision", ""),
                runtime=parameters.get("runtime", "unknown"), size=int(sketch["shape"][-1]),
                takes_look=any(i["name"] == contract.APPEARANCE for i in metadata["inputs"]))
        return self._identity

    async def sketch2face(self, sketches: np.ndarray, t: np.ndarray,
                          appearance: np.ndarray) -> Sketch2FaceResult:
        """Run the ensemble on uint8 [B, S, S] sketches, float32 [B, 5] blends and float32
        [B, LOOK_DIM] looks (APPEARANCE); retries UNAVAILABLE with backoff within the
        deadline. A served ensemble without APPEARANCE (exported before looks) is a 502."""
        identity = await self.identity()
        if not identity.takes_look:
            raise ApiError(502, "model_error", f"the served {contract.ENSEMBLE} model takes no "
                           f"look ({contract.APPEARANCE}): its model repository was exported "
                           "before looks; export it again")
        deadline = time.monotonic() + self.settings.triton_deadline_s
        backoff = BACKOFF_START_S
        for attempt in range(self.settings.triton_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            started = time.perf_counter()
            try:
                result = await self.client.infer(
                    contract.ENSEMBLE, ensemble_inputs(sketches, t, appearance, grpcclient),
                    client_timeout=remaining)
            except InferenceServerException as error:
                status = str(error.status())
                if status in RETRYABLE and attempt < self.settings.triton_retries:
                    self._identity = None
                    await asyncio.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
                    backoff *= 2
                    continue
                raise translate(error, self.settings.triton_deadline_s) from None
            version = result.as_numpy(contract.PROJECTION_VERSION)
            return Sketch2FaceResult(face=result.as_numpy(contract.FACE),
                                     refined=result.as_numpy(contract.REFINED_SKETCH),
                                     neighbors=result.as_numpy(contract.NEIGHBORS),
                                     seconds=time.perf_counter() - started,
                                     projection_version=None if version is None
                                     else int(version.ravel()[0]))
        raise unavailable(f"the model server did not answer within "
                          f"{self.settings.triton_deadline_s:g} s")


def translate(error: InferenceServerException, deadline_s: float) -> ApiError:
    status = str(error.status())
    message = (error.message() or "").strip().splitlines()[0] if error.message() else ""
    if status == RETRYABLE[0]:
        return unavailable("the model server is not reachable (starting or down)")
    if status in TIMED_OUT:
        return unavailable(f"the model server did not answer within {deadline_s:g} s")
    if status in REFUSED:
        return ApiError(422, "rejected_by_model", message or "the model refused the input")
    if "not ready" in message or "unknown model" in message or "is not found" in message:
        return unavailable("the sketch2face model is not loaded yet")
    return ApiError(502, "model_error", f"the model server failed: {message or status}")
