"""Pure ASGI middleware: who is asking and in which language, and the security headers of every answer."""

from __future__ import annotations

from sqlalchemy import select
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instance import i18n
from instance.models import User
from instance.runtime import Instance
from instance.services.notifications import unread_count
from web.auth import session_fingerprint

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}


def is_inbox_post(scope: Scope) -> bool:
    """A POST to an ActivityPub inbox (``/inbox``, ``/actor/inbox``, ``/users/{handle}/inbox``...)."""
    return bool(scope["method"] == "POST" and str(scope["path"]).endswith("/inbox"))


class RequestContextMiddleware:
    """Loads the logged-in person (ending sessions of suspended people or changed passwords) and the language."""

    def __init__(self, app: ASGIApp, instance: Instance) -> None:
        self.app = app
        self.instance = instance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if is_inbox_post(scope):  # servers posting activities: no person, no session to read
            user, unread = None, 0
        else:
            user, unread = await self._load_user(connection)
        state = scope.setdefault("state", {})
        state["user"] = user
        state["unread"] = unread
        language = (
            (user.language if user and user.language in i18n.LANGUAGES else "")
            or connection.session.get("language", "")
            or i18n.negotiate(connection.headers.get("accept-language", ""), self.instance.settings.default_language)
        )
        token = i18n.set_language(language)
        try:
            await self.app(scope, receive, send)
        finally:
            i18n.reset_language(token)

    async def _load_user(self, connection: HTTPConnection) -> tuple[User | None, int]:
        """The logged-in person and their number of unread notifications."""
        session = connection.session
        uid = session.get("uid")
        if not isinstance(uid, int):
            return None, 0
        async with self.instance.sessions() as db:
            user = await db.scalar(select(User).where(User.id == uid))
            unread = await unread_count(db, uid) if user is not None else 0
        if (
            user is None
            or not user.is_active
            or user.is_suspended
            or session.get("auth") != session_fingerprint(self.instance, user)
        ):
            session.pop("uid", None)
            session.pop("auth", None)
            return None, 0
        return user, unread


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
