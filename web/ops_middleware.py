"""Middleware for running the instance: request ids, request counts for ``/metrics``, one access log line a
request, and the admins' announcement banners."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from instance import logs
from instance.models import Announcement, User
from instance.runtime import Instance
from instance.services import announcements, instance_settings
from instance.services.instance_settings import Site

access_log = logging.getLogger("benevalibre.access")

REQUEST_ID_HEADER = "x-request-id"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")
BANNER_CACHE_SECONDS = 10.0
DISMISSED_KEY = "dismissed_announcements"
MACHINE_PATHS = frozenset({"/healthz", "/metrics", "/inbox", "/actor"})
MACHINE_PREFIXES = ("/static/", "/.well-known/", "/nodeinfo/", "/api/")
MACHINE_SUFFIXES = ("/inbox", "/outbox", "/followers", "/following")


def request_counts(app: object) -> Counter[str]:
    """The requests this process answered, by status class (``2xx``...), kept on the app's state."""
    state = app.state  # type: ignore[attr-defined]
    counts: Counter[str] | None = getattr(state, "request_counts", None)
    if counts is None:
        counts = Counter()
        state.request_counts = counts
    return counts


def incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate: str = bytes(value).decode("latin-1").strip()
            if SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each request an id (the proxy's ``X-Request-Id`` when sane, else a new one), answers it in the
    same header, puts it on every log line written meanwhile, counts the answer and logs one access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_counts(scope["app"])[f"{status // 100}xx"] += 1
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            access_log.info(
                "%s %s %s %sms",
                scope["method"],
                scope["path"],
                status,
                elapsed,
                extra={
                    "request_id": rid,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": elapsed,
                },
            )
            logs.request_id.reset(token)


@dataclass
class BannerCache:
    """What every page needs from the database, read at most every few seconds per process: the current
    banners and the effective instance settings (``instance_settings.effective``)."""

    loaded_at: float = -BANNER_CACHE_SECONDS
    banners: list[Announcement] = field(default_factory=list)
    site: Site | None = None

    def clear(self) -> None:
        self.loaded_at = -BANNER_CACHE_SECONDS


def banner_cache(app: object) -> BannerCache:
    state = app.state  # type: ignore[attr-defined]
    cache: BannerCache | None = getattr(state, "banner_cache", None)
    if cache is None:
        cache = BannerCache()
        state.banner_cache = cache
    return cache


def is_machine_path(path: str) -> bool:
    """Paths that never show a page to a person (no banner to load for them)."""
    return path in MACHINE_PATHS or path.startswith(MACHINE_PREFIXES) or path.endswith(MACHINE_SUFFIXES)


class AnnouncementsMiddleware:
    """Puts the banners this visitor should see in ``request.state.announcements`` (``_announcements.html``),
    and the effective instance settings in ``request.state.site`` (name, registration policies...).

    Current banners are read at most every few seconds per process (admins' changes clear the cache of their
    own process at once); whether the person manages an association is asked only when a banner needs it.
    Must run inside ``RequestContextMiddleware`` (it reads the person it loaded).
    """

    def __init__(self, app: ASGIApp, instance: Instance) -> None:
        self.app = app
        self.instance = instance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_machine_path(scope["path"]):
            state = scope.setdefault("state", {})
            state["announcements"] = await self._visible(scope, state.get("user"))
            state["site"] = banner_cache(scope["app"]).site
        await self.app(scope, receive, send)

    async def _visible(self, scope: Scope, user: User | None) -> list[Announcement]:
        cache = banner_cache(scope["app"])
        if time.monotonic() - cache.loaded_at >= BANNER_CACHE_SECONDS:
            async with self.instance.sessions() as db:
                cache.banners = await announcements.current_banners(db)
                cache.site = await instance_settings.effective(db, self.instance.settings)
            cache.loaded_at = time.monotonic()
        dismissed = set(scope.get("session", {}).get(DISMISSED_KEY, []))
        candidates = [a for a in cache.banners if a.id not in dismissed and announcements.is_current(a)]
        is_manager = False
        if user is not None and any(a.audience == "managers" for a in candidates):
            async with self.instance.sessions() as db:
                is_manager = await announcements.manages_something(db, user.id)
        return [a for a in candidates if announcements.shown_to(a, user, is_manager)]
