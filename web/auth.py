"""Who is asking: the logged-in person, kept in the signed session cookie.

The cookie holds the person's id (``uid``), a fingerprint of their password (``auth``: a new password or a
suspension ends every session) and a random id of this session (``sid``: logging out records it in
``ended_sessions``, so that a copy of the cookie taken before stops working too). ``RequestContextMiddleware``
checks all three.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request

from instance.errors import PermissionDenied
from instance.i18n import lazy_gettext
from instance.models import User
from instance.runtime import Instance
from instance.services import accounts
from web import csrf


def session_fingerprint(instance: Instance, user: User) -> str:
    """Changes when the password changes, so that every other session of that person ends."""
    return instance.tokens.fingerprint(f"{user.id}:{user.password_hash}:{user.password_changed_at.isoformat()}")


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new session content, id and CSRF token: no fixation)."""
    instance: Instance = request.app.state.instance
    language = request.session.get("language")
    request.session.clear()
    request.session["uid"] = user.id
    request.session["auth"] = session_fingerprint(instance, user)
    request.session["sid"] = new_session_id()
    if language:
        request.session["language"] = language
    csrf.rotate(request)


def log_out(request: Request) -> None:
    """Clear this browser's session (the person's other sessions go on)."""
    language = request.session.get("language")
    request.session.clear()
    if language:
        request.session["language"] = language
    csrf.rotate(request)


async def end_session(request: Request) -> None:
    """Log out, and refuse this session on the server from now on: a copy of its cookie taken before (another
    browser, a stolen cookie) no longer logs anyone in. The person's other sessions go on."""
    user = current_user(request)
    session_id = request.session.get("sid")
    if user is not None and isinstance(session_id, str):
        instance: Instance = request.app.state.instance
        async with instance.sessions() as db:
            await accounts.end_session(db, instance, session_id, user.id)
            await db.commit()
    log_out(request)


def current_user(request: Request) -> User | None:
    return getattr(request.state, "user", None)


class LoginRequired(PermissionDenied):
    """Raised by pages that need a logged-in person; the web layer redirects to the login page."""


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise LoginRequired(lazy_gettext("Please log in to see this page."))
    return user


def require_admin(request: Request) -> User:
    user = require_user(request)
    if not user.is_admin:
        raise PermissionDenied(lazy_gettext("This page is for the instance's administrators."))
    return user
