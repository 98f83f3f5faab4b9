"""The API's one error shape, ``{"error": {"code", "message", "fields"}}``, and its status codes.

Domain errors raised by the services become: ValidationError 422 (``fields`` names each wrong field),
PermissionDenied 403, NotFound 404, Conflict 409, RateLimited 429 (with ``Retry-After``). The API adds
401 (no valid token, with ``WWW-Authenticate: Bearer``) and 400 (a body that is not JSON).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from instance.errors import Conflict, DomainError, NotFound, PermissionDenied, RateLimited, ValidationError
from instance.i18n import lazy_gettext


class Unauthorized(DomainError):
    status_code = 401


class BadRequest(DomainError):
    status_code = 400


CODES: dict[type[DomainError], str] = {
    ValidationError: "invalid",
    PermissionDenied: "forbidden",
    NotFound: "not_found",
    Conflict: "conflict",
    RateLimited: "rate_limited",
    Unauthorized: "unauthorized",
    BadRequest: "bad_request",
}
STATUSES: dict[type[DomainError], int] = {ValidationError: 422}


def default_messages() -> dict[int, object]:
    return {
        400: lazy_gettext("This request cannot be read."),
        401: lazy_gettext("Give a valid access token: Authorization: Bearer <token>."),
        403: lazy_gettext("This token or your role does not allow this."),
        404: lazy_gettext("Nothing here."),
        405: lazy_gettext("This method is not allowed here."),
        409: lazy_gettext("This conflicts with what is already there."),
        422: lazy_gettext("Some values are not valid."),
        429: lazy_gettext("Too many requests: wait before trying again."),
    }


def error_body(code: str, message: object, fields: Mapping[str, object] | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": str(message), "fields": {k: str(v) for k, v in (fields or {}).items()}}}


def json_error(
    status: int,
    code: str,
    message: object = "",
    fields: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    text = message or default_messages().get(status, "")
    return JSONResponse(error_body(code, text, fields), status_code=status, headers=headers)


def domain_error_response(error: DomainError) -> JSONResponse:
    kind = next((k for k in type(error).__mro__ if k in CODES), None)
    status = STATUSES.get(kind, error.status_code) if kind is not None else error.status_code
    code = CODES[kind] if kind is not None else str(status)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    fields = error.fields if isinstance(error, ValidationError) else None
    return json_error(status, code, error.message, fields, headers)
