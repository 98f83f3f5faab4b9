"""CSRF protection for HTML forms: a per-session token in a hidden field, and an Origin check."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

from instance.errors import PermissionDenied
from instance.i18n import lazy_gettext

FIELD = "csrf_token"


def token(request: Request) -> str:
    if "session" not in request.scope:
        return ""
    value = request.session.get(FIELD)
    if not value:
        value = secrets.token_urlsafe(32)
        request.session[FIELD] = value
    return str(value)


def rotate(request: Request) -> None:
    """Give the session a new token (after login and logout)."""
    request.session[FIELD] = secrets.token_urlsafe(32)


async def read_form(request: Request, **options: Any) -> FormData:
    """The submitted form, once its CSRF token and origin are checked; a 403 otherwise."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        expected = request.app.state.instance.settings.base_url.rstrip("/").lower()
        if origin.rstrip("/").lower() != expected and urlsplit(origin).netloc.lower() != request.url.netloc.lower():
            raise PermissionDenied(lazy_gettext("This form was sent from another site."))
    form = await request.form(**options)
    sent = form.get(FIELD)
    expected_token = request.session.get(FIELD) if "session" in request.scope else None
    if not isinstance(sent, str) or not expected_token or not hmac.compare_digest(sent, str(expected_token)):
        raise PermissionDenied(
            lazy_gettext("Your session has expired or the form is out of date. Please go back, reload and try again.")
        )
    if any(isinstance(value, str) and "\x00" in value for _name, value in form.multi_items()):
        # no database text holds a NUL character (PostgreSQL refuses one), and no one types it: dropped
        items = [(k, v.replace("\x00", "") if isinstance(v, str) else v) for k, v in form.multi_items()]
        form = FormData(items)
    return form
