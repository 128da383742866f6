"""Gateway settings, read once from the environment (S2I_* variables) with sensible defaults.

    S2I_TRITON_GRPC        host:port of Triton's gRPC endpoint        127.0.0.1:8001
    S2I_TRITON_DEADLINE_S  per-call deadline to Triton                 10
    S2I_TRITON_RETRIES     extra tries when Triton is UNAVAILABLE      2
    S2I_MAX_BODY_BYTES     largest accepted request body               8 MiB
    S2I_MAX_PIXELS         largest accepted image (width x height)     16.7 MP (4096²)
    S2I_DEFAULT_T          blend when the request gives none           0.5
    S2I_MODEL_REPOSITORY   where the projection's bank ids and guide   model_repository
                           sketches are read (neighbor_ids, the drawing
                           guide; optional)
    S2I_MAX_CONCURRENCY    requests processed at once (more -> 429)    8
    S2I_RATE_LIMIT_PER_S   requests per second per client address      10
                           (token bucket; 0 turns the limit off)
    S2I_RATE_LIMIT_BURST   requests a client may send at once          20
    S2I_MAX_CLIENT_CONCURRENCY  /v1 requests in flight per client       4
                           address (more -> 429; 0 turns it off)
    S2I_REQUEST_DEADLINE_S whole request, body upload included         30
                           (408 while the body is still arriving, else 504)
    S2I_CORS_ORIGINS       comma-separated allowed origins             (none: CORS closed)

The client address is the connection's peer, or the X-Forwarded-For address when the peer
is a trusted proxy (uvicorn's FORWARDED_ALLOW_IPS, default 127.0.0.1); IPv6 clients are
grouped by /64. /healthz, /readyz and /metrics are never limited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sketch2idol.core.contract import T_RANGE, TRITON_GRPC_PORT
from sketch2idol.core.faces_request import MAX_BYTES, MAX_PIXELS

# 0.5, by the model card's evaluation: nearly the fidelity of t = 1 on clean sketches, far
# more robust on spoiled ones (README, "The gateway and the drawing page").
DEFAULT_T = 0.5
ENV_PREFIX = "S2I_"

Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
ZeroIsOff = Annotated[float, Field(ge=0)]  # 0 turns the limit off


class SettingsError(ValueError):
    """A setting (an S2I_* variable or an override) that cannot be used; one line."""


class Settings(BaseSettings):
    """The gateway's settings: each field is read from S2I_<FIELD NAME> (S2I_DEFAULT_T, ...);
    keyword arguments win over the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    triton_grpc: str = f"127.0.0.1:{TRITON_GRPC_PORT}"
    triton_deadline_s: Positive = 10.0
    triton_retries: Annotated[int, Field(ge=0)] = 2
    max_body_bytes: PositiveInt = MAX_BYTES
    max_pixels: PositiveInt = MAX_PIXELS
    default_t: Annotated[float, Field(ge=T_RANGE[0], le=T_RANGE[1], allow_inf_nan=False)] = \
        DEFAULT_T
    model_repository: Path = Path("model_repository")
    max_concurrency: PositiveInt = 8
    rate_limit_per_s: ZeroIsOff = 10.0
    rate_limit_burst: PositiveInt = 20
    max_client_concurrency: Annotated[int, Field(ge=0)] = 4
    request_deadline_s: Positive = 30.0
    # comma-separated in the environment; none: CORS closed
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of a field: S2I_ and the field's name in capitals."""
        return f"{ENV_PREFIX}{field.upper()}"

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from S2I_* variables; keyword overrides that are not None win (the CLI's
        flags). A bad value raises SettingsError naming the variable, in one line."""
        try:
            return cls(**{key: value for key, value in overrides.items() if value is not None})
        except ValidationError as error:
            problems = []
            for problem in error.errors():
                field = str(problem["loc"][0]) if problem.get("loc") else "settings"
                name = cls.variable(field) if field in cls.model_fields else field
                problems.append(f"{name}={problem.get('input')!r}: {problem['msg']}")
            raise SettingsError("; ".join(problems)) from None
