"""Shared fixtures: a real database (SQLite by default, PostgreSQL when BENEVALIBRE_TEST_DATABASE_URL is set),
a real app driven in-process over httpx, a real SMTP server, and the worker stepped with ``run_once``.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from alembic import command
from sqlalchemy import Connection, text
from starlette.applications import Starlette

from instance.db import alembic_config, create_engine
from instance.models import Base, Handle, User
from instance.runtime import Instance
from instance.security import hash_password
from instance.settings import Settings
from instance.worker import Worker
from web.app import create_app

pytest_plugins = ["tests.federation_fixtures"]  # the two-instance fixtures of the federation tests

BASE_URL = "https://a.test"
PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("BENEVALIBRE_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


def _create_schema(connection: Connection, settings: Settings) -> None:
    Base.metadata.drop_all(connection)
    connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    Base.metadata.create_all(connection)
    config = alembic_config(settings)
    config.attributes["connection"] = connection
    command.stamp(config, "head")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = _database_url(tmp_path_factory)
    settings = Settings(database_url=url, secret_key="x")

    async def setup() -> None:
        engine = create_engine(settings)
        async with engine.begin() as connection:
            await connection.run_sync(_create_schema, settings)
        await engine.dispose()

    asyncio.run(setup())
    return url


async def _empty_tables(instance: Instance) -> None:
    async with instance.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(table.name for table in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(table.delete())


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "base_url": BASE_URL,
        "secret_key": "test-secret-key-not-for-production",
        "data_dir": str(tmp_path / "data"),
        "login_rate_limit": 5,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override this fixture in a test module to change the app's settings."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(database_url, tmp_path, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    await _empty_tables(application.state.instance)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def instance(app: Starlette) -> Instance:
    return app.state.instance  # type: ignore[no-any-return]


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as http:
        yield http


def make_client(app: Starlette) -> httpx.AsyncClient:
    """Another browser on the same app (its own cookies)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=False)


@pytest.fixture
def worker(instance: Instance) -> Worker:
    return Worker(instance.tasks)


# -- browsing helpers ------------------------------------------------------------------------------------


async def csrf_token(client: httpx.AsyncClient, path: str = "/") -> str:
    response = await client.get(path)
    match = CSRF_RE.search(response.text)
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, Any] | None = None, page: str = "/", **kwargs: Any
) -> httpx.Response:
    """Submit a form as a browser would: with the session's CSRF token, read from ``page``."""
    body = dict(data or {})
    body.setdefault("csrf_token", await csrf_token(client, page))
    return await client.post(path, data=body, **kwargs)


async def create_user(
    instance: Instance,
    email: str = "alice@example.org",
    handle: str = "alice",
    *,
    display_name: str = "Alice Martin",
    password: str = PASSWORD,
    active: bool = True,
    admin: bool = False,
) -> User:
    """A user straight in the database (for tests whose subject is not registration)."""

    async with instance.sessions() as db:
        db.add(Handle(handle=handle, kind="user"))
        user = User(
            email=email,
            handle=handle,
            display_name=display_name,
            password_hash=hash_password(password),
            is_active=active,
            is_admin=admin,
        )
        db.add(user)
        await db.commit()
        return user


async def log_in(client: httpx.AsyncClient, email: str = "alice@example.org", password: str = PASSWORD) -> None:
    response = await post_form(client, "/login", {"email": email, "password": password}, page="/login")
    assert response.status_code == 303, response.text


# -- a real SMTP server -----------------------------------------------------------------------------------


class Mailbox:
    """Collects what a real SMTP server (aiosmtpd) on loopback receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def body(message: Message) -> str:
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode(message.get_content_charset() or "utf-8")


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with socket.socket() as probe:  # aiosmtpd needs a real port number to check that it started
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()


def link_in(body: str, path_prefix: str) -> str:
    """The first link of a mail body whose path starts with ``path_prefix``, as a path."""
    match = re.search(re.escape(BASE_URL + path_prefix) + r"\S+", body)
    assert match, f"no link to {path_prefix} in {body!r}"
    return match.group(0)[len(BASE_URL) :]
