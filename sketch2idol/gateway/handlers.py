"""Exception handlers: every failure becomes a JSON refusal {"error", "detail"[, "field"]},
counted and logged (`Refusals`); a bug gives a JSON 500 without a traceback."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sketch2idol.core.looks import LookError
from sketch2idol.gateway.errors import ApiError, Refusals, error_response
from sketch2idol.gateway.limits import BODY_CUT_OFF
from sketch2idol.gateway.looks import LOOK_FORM_FIELDS, SEED_FIELD, look_refusal, seed_refusal
from sketch2idol.gateway.routes.faces import BLEND_FIELDS
from sketch2idol.gateway.uploads import t_error

HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def validation_refusal(error: RequestValidationError) -> ApiError:
    """One refusal for FastAPI's validation problems: a blend, seed or look field gets the
    same sentence as the gateway's own checks of it."""
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "request"
        if where in BLEND_FIELDS:
            return t_error(where, problem.get("input"))
        if where == SEED_FIELD:
            return seed_refusal(problem.get("input"))
        if where in LOOK_FORM_FIELDS:  # e.g. a colour sent as a file
            return look_refusal(LookError(where, "must be a text field, not a file"))
        if where == "sketch" and problem.get("type") != "missing":
            problems.append("sketch: must be a file upload (a PNG or JPEG drawing)")
            continue
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return ApiError(422, "invalid_request", "; ".join(problems))


def install(app: FastAPI, refusals: Refusals) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return refusals.respond(error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        refusal = ApiError(error.status_code, HTTP_CODES.get(error.status_code, "http_error"),
                           detail.rstrip(".") + ".", dict(error.headers or {}))
        if getattr(request.state, BODY_CUT_OFF, False):  # BodyLimitMiddleware counted it
            return error_response(refusal)
        return refusals.respond(refusal)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return refusals.respond(validation_refusal(error))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # A bug: the log gets the traceback (uvicorn), the client a JSON 500 without one.
        return refusals.respond(ApiError(500, "internal_error",
                                         "the gateway failed on this request"))
