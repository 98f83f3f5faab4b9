"""The root object of a running instance: settings, database, tokens, limiters and the worker's tasks."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from instance.db import create_engine, session_factory
from instance.mail import MailTask
from instance.ratelimit import RateLimiter
from instance.security import Tokens
from instance.services.entry_notices import DigestTask
from instance.services.move_protocol import MoveConfirmationTask
from instance.settings import Settings
from instance.worker import Task


class Instance:
    """Everything one instance needs at run time; built by ``Instance.create`` and shared by web and CLI."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.tokens = Tokens(settings.secret_key)
        self.login_limiter = RateLimiter(settings.login_rate_limit, settings.rate_limit_window)
        self.tasks: list[Task] = [MailTask(settings, self.sessions), DigestTask(self.sessions, settings.base_url)]
        self.tasks.append(MoveConfirmationTask(settings, self.sessions))

    @classmethod
    def create(cls, settings: Settings) -> Instance:
        settings = settings.with_secret()
        return cls(settings, create_engine(settings))

    def url(self, path: str) -> str:
        """An absolute URL on this instance."""
        return self.settings.base_url.rstrip("/") + path

    async def close(self) -> None:
        await self.engine.dispose()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (Linux and macOS), else asyncio's own (``None``)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is installed wherever it builds
        return None
    return uvloop.new_event_loop


def freeze_startup_heap() -> None:
    """Set what start-up allocated (modules, routes, templates, the app) apart from the garbage collector, once the
    process is ready to serve: its full collections then walk only what serving allocates, and pause requests for
    a few milliseconds instead of tens."""
    gc.collect()
    gc.freeze()
