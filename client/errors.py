"""Every refusal the gateway makes: a status, a short code, a sentence for people."""

from __future__ import annotations


class ApiError(Exception):
    """Turned into `{"error": code, "detail": detail}` with `status` (and `headers`)."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"error": self.code, "detail": self.detail}


def unavailable(detail: str, retry_after_s: int = 2) -> ApiError:
    return ApiError(503, "model_unavailable", detail, {"Retry-After": str(retry_after_s)})
