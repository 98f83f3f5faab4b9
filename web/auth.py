"""Who is asking: the logged-in person, kept in the signed session cookie."""

from __future__ import annotations

from starlette.requests import Request

from instance.errors import PermissionDenied
from instance.i18n import lazy_gettext
from instance.models import User
from instance.runtime import Instance
from web import csrf


def session_fingerprint(instance: Instance, user: User) -> str:
    """Changes when the password changes, so that every other session of that person ends."""
    return instance.tokens.fingerprint(f"{user.id}:{user.password_hash}:{user.password_changed_at.isoformat()}")


def log_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new session content and CSRF token: no fixation)."""
    instance: Instance = request.app.state.instance
    language = request.session.get("language")
    request.session.clear()
    request.session["uid"] = user.id
    request.session["auth"] = session_fingerprint(instance, user)
    if language:
        request.session["language"] = language
    csrf.rotate(request)


def log_out(request: Request) -> None:
    language = request.session.get("language")
    request.session.clear()
    if language:
        request.session["language"] = language
    csrf.rotate(request)


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
