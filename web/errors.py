"""Every error turned into an answer in one place: HTML pages for browsers, JSON for the others."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping

from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from instance import i18n
from instance.db import is_unavailable
from instance.errors import DomainError, RateLimited, ValidationError
from instance.i18n import gettext as _
from web.auth import LoginRequired
from web.templating import flash, render

log = logging.getLogger(__name__)

UNAVAILABLE_RETRY_SECONDS = 30  # the Retry-After of a 503 while the database is away


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def titles() -> dict[int, str]:
    return {
        400: _("Something is wrong with this request"),
        403: _("You are not allowed to do this"),
        404: _("Page not found"),
        405: _("This action is not possible here"),
        409: _("This conflicts with what is already there"),
        413: _("What you sent is too large"),
        429: _("Too many attempts"),
        500: _("Something went wrong on our side"),
    }


def error_response(
    request: Request, status: int, message: str, code: str = "", headers: Mapping[str, str] | None = None
) -> Response:
    title = titles().get(status, titles()[400 if status < 500 else 500])
    if wants_json(request):
        body = {"error": {"code": code or str(status), "message": message or title, "fields": {}}}
        return JSONResponse(body, status_code=status, headers=headers)
    response = render(request, "errors/error.html", {"title": title, "message": message, "status": status}, status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, LoginRequired) and not wants_json(request):
        flash(request, str(exc.message), "info")
        return RedirectResponse(f"{request.app.url_path_for('login')}?next={request.url.path}", status_code=303)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    if isinstance(exc, ValidationError) and wants_json(request):
        body = {
            "error": {
                "code": "invalid",
                "message": str(exc.message),
                "fields": {k: str(v) for k, v in exc.fields.items()},
            }
        }
        return JSONResponse(body, status_code=exc.status_code)
    return error_response(request, exc.status_code, str(exc.message), headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if exc.detail and exc.detail not in _STARLETTE_DEFAULTS else ""
    return error_response(request, exc.status_code, detail, headers=exc.headers)


def _overflowed(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _depth in range(10):
        if seen is None:
            return False
        if isinstance(seen, OverflowError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def database_error(request: Request, exc: Exception) -> Response:
    if _overflowed(exc):
        return await out_of_range(request, exc)
    if is_unavailable(exc):
        return unavailable(request, exc)
    return await server_error(request, exc)


def unavailable(request: Request, exc: BaseException) -> Response:
    """503 with ``Retry-After`` while the database cannot be reached: a short page that needs neither the
    database nor the session (also answered from ``DatabaseUnavailableMiddleware``, before either is loaded)."""
    log.warning("database unavailable on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    headers = {"Retry-After": str(UNAVAILABLE_RETRY_SECONDS), "Cache-Control": "no-store"}
    title = _("The service is briefly unavailable")
    message = _("Its database cannot be reached just now. Please try again in a minute.")
    if wants_json(request):
        body = {"error": {"code": "unavailable", "message": message, "fields": {}}}
        return JSONResponse(body, status_code=503, headers=headers)
    page = (
        f'<!doctype html>\n<html lang="{html.escape(i18n.get_language())}">\n<head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        '<link rel="stylesheet" href="/static/style.css"></head>\n<body><main id="main" class="error-page">'
        f'<p class="status">503</p><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></main></body>\n'
        "</html>\n"
    )
    return HTMLResponse(page, status_code=503, headers=headers)


async def out_of_range(request: Request, exc: Exception) -> Response:
    """A number from the request that the database cannot hold (an id past 2**31 on PostgreSQL, say)."""
    log.info("out-of-range value on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return error_response(request, 404, _("There is nothing here with this number."), code="not_found")


async def too_many_digits(request: Request, exc: Exception) -> Response:
    """A number of thousands of digits in the URL or a form, which Python refuses to read: out of range too.
    Any other ``ValueError`` is a bug and goes on to ``server_error``."""
    if "integer string conversion" not in str(exc):
        raise exc
    return await out_of_range(request, exc)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "")


_STARLETTE_DEFAULTS = {"Not Found", "Method Not Allowed", "Bad Request", "Forbidden", "Internal Server Error"}

HANDLERS = {
    DomainError: domain_error,
    HTTPException: http_error,
    DBAPIError: database_error,
    OverflowError: out_of_range,
    ValueError: too_many_digits,
    Exception: server_error,
}
