"""Gateway settings, read once from the environment (S2I_* variables) with sensible defaults.

    S2I_TRITON_GRPC        host:port of Triton's gRPC endpoint        127.0.0.1:8001
    S2I_TRITON_DEADLINE_S  per-call deadline to Triton                 10
    S2I_TRITON_RETRIES     extra tries when Triton is UNAVAILABLE      2
    S2I_MAX_BODY_BYTES     largest accepted request body               8 MiB
    S2I_MAX_PIXELS         largest accepted image (width x height)     16.7 MP (4096²)
    S2I_DEFAULT_T          blend when the request gives none           0.5
    S2I_MODEL_REPOSITORY   where the projection's bank ids are read    model_repository
                           (for the drawing guide; optional)
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

import os
from dataclasses import dataclass, field
from pathlib import Path

from sketch2idol.contract import T_RANGE

# 0.5, by the model card's evaluation: nearly the fidelity of t = 1 on clean sketches, far
# more robust on spoiled ones (README, "The gateway and the drawing page").
DEFAULT_T = 0.5


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    triton_grpc: str = "127.0.0.1:8001"
    triton_deadline_s: float = 10.0
    triton_retries: int = 2
    max_body_bytes: int = 8 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    default_t: float = DEFAULT_T
    model_repository: Path = Path("model_repository")
    max_concurrency: int = 8
    rate_limit_per_s: float = 10.0
    rate_limit_burst: int = 20
    max_client_concurrency: int = 4
    request_deadline_s: float = 30.0
    cors_origins: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not T_RANGE[0] <= self.default_t <= T_RANGE[1]:
            raise ValueError(f"S2I_DEFAULT_T={self.default_t} must lie in [{T_RANGE[0]:g}, "
                             f"{T_RANGE[1]:g}]")
        for name in ("triton_deadline_s", "max_body_bytes", "max_pixels", "max_concurrency",
                     "rate_limit_burst", "request_deadline_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("rate_limit_per_s", "max_client_concurrency"):  # 0: no limit
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (off) or positive, got "
                                 f"{getattr(self, name)}")

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from S2I_* variables; keyword overrides win (the CLI's flags)."""
        values = dict(
            triton_grpc=_env("S2I_TRITON_GRPC", cls.triton_grpc),
            triton_deadline_s=float(_env("S2I_TRITON_DEADLINE_S", str(cls.triton_deadline_s))),
            triton_retries=int(_env("S2I_TRITON_RETRIES", str(cls.triton_retries))),
            max_body_bytes=int(_env("S2I_MAX_BODY_BYTES", str(cls.max_body_bytes))),
            max_pixels=int(_env("S2I_MAX_PIXELS", str(cls.max_pixels))),
            default_t=float(_env("S2I_DEFAULT_T", str(cls.default_t))),
            model_repository=Path(_env("S2I_MODEL_REPOSITORY", str(cls.model_repository))),
            max_concurrency=int(_env("S2I_MAX_CONCURRENCY", str(cls.max_concurrency))),
            rate_limit_per_s=float(_env("S2I_RATE_LIMIT_PER_S", str(cls.rate_limit_per_s))),
            rate_limit_burst=int(_env("S2I_RATE_LIMIT_BURST", str(cls.rate_limit_burst))),
            max_client_concurrency=int(_env("S2I_MAX_CLIENT_CONCURRENCY",
                                            str(cls.max_client_concurrency))),
            request_deadline_s=float(_env("S2I_REQUEST_DEADLINE_S",
                                          str(cls.request_deadline_s))),
            cors_origins=tuple(o.strip() for o in _env("S2I_CORS_ORIGINS", "").split(",")
                               if o.strip()),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
