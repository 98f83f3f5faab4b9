"""The root object of a running instance: settings, database, tokens, limiters and the worker's tasks."""

from __future__ import annotations

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
