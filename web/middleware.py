"""Pure ASGI middleware: who is asking and in which language, and the security headers of every answer."""

from __future__ import annotations

from sqlalchemy import exists, false, select
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instance import i18n
from instance.db import is_unavailable
from instance.models import EndedSession, User
from instance.runtime import Instance
from instance.services.notifications import unread_count
from web.auth import new_session_id, session_fingerprint
from web.errors import unavailable

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


def drop_nul(scope: Scope) -> None:
    """Remove NUL characters from the URL (``%00``): no database text holds one (PostgreSQL refuses it), and no
    search, filter or name needs it. Forms get the same treatment in ``web.csrf.read_form``."""
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        scope["query_string"] = query.replace(b"%00", b"").replace(b"\x00", b"")
    if "\x00" in scope["path"]:
        scope["path"] = scope["path"].replace("\x00", "")
        if isinstance(scope.get("raw_path"), bytes):
            scope["raw_path"] = scope["raw_path"].replace(b"%00", b"")


class RequestContextMiddleware:
    """Loads the logged-in person (ending sessions of suspended people or changed passwords) and the language."""

    def __init__(self, app: ASGIApp, instance: Instance) -> None:
        self.app = app
        self.instance = instance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            drop_nul(scope)
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
        """The logged-in person and their number of unread notifications.

        The session is refused when its person is gone, inactive or suspended, when their password changed since
        (``auth``) or when it was logged out (its ``sid`` is in ``ended_sessions``: a copy of the cookie); the
        person and that last check come in one query. A session of before ``sid`` existed gets one here."""
        session = connection.session
        uid = session.get("uid")
        if not isinstance(uid, int):
            return None, 0
        sid = session.get("sid")
        ended = exists().where(EndedSession.id == sid) if isinstance(sid, str) else false()
        async with self.instance.sessions() as db:
            row = (await db.execute(select(User, ended).where(User.id == uid))).one_or_none()
            user = row[0] if row is not None and not row[1] else None
            if (
                user is None
                or not user.is_active
                or user.is_suspended
                or session.get("auth") != session_fingerprint(self.instance, user)
            ):
                for key in ("uid", "auth", "sid"):
                    session.pop(key, None)
                return None, 0
            unread = await unread_count(db, uid)
        if not isinstance(sid, str):
            session["sid"] = new_session_id()
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


class DatabaseUnavailableMiddleware:
    """Answers 503 with ``Retry-After`` (``web.errors.unavailable``) when the database cannot be used just now
    (away, restarting, out of connections, SQLite busy: ``instance.db.is_unavailable``), wherever
    the request met it: loading the person, the banners or in a page. Without it such an error would reach the
    server's last resort (a 500, and uvicorn closing the connection). Runs outside the session and the person's
    loading, so its page needs neither; an answer already started cannot be changed and the error goes on."""

    def __init__(self, app: ASGIApp, instance: Instance) -> None:
        self.app = app
        self.instance = instance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if started or not is_unavailable(error):
                raise
            request = Request(scope)
            language = i18n.negotiate(
                request.headers.get("accept-language", ""), self.instance.settings.default_language
            )
            token = i18n.set_language(language)
            try:
                response = unavailable(request, error)
            finally:
                i18n.reset_language(token)
            await response(scope, receive, send)
