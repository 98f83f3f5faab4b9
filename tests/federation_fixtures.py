"""The fixtures of the two-instance federation tests (``pair``), loaded by test modules with
``pytest_plugins = ["tests.federation_fixtures"]``; the helpers they use are in ``tests/federation_support.py``.

The databases are two SQLite files, or two PostgreSQL databases beside the test one (``<name>_fed_a`` and
``<name>_fed_b``), built once per session and emptied before each test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from instance.db import create_engine
from instance.settings import Settings
from tests.conftest import _create_schema, _empty_tables, make_settings
from tests.federation_support import HOSTS, Pair, Router, Side
from web.app import create_app


async def _create_database(admin_url: str, name: str) -> None:
    admin = create_engine(Settings(database_url=admin_url, secret_key="x"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()


async def _build_schema(url: str) -> None:
    settings = Settings(database_url=url, secret_key="x")
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.run_sync(_create_schema, settings)
    await engine.dispose()


@pytest.fixture(scope="session")
def federation_databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """host -> database URL, each with the schema built (session scope; emptied per test)."""
    base = os.environ.get("BENEVALIBRE_TEST_DATABASE_URL")
    folder = tmp_path_factory.mktemp("federation")
    urls: dict[str, str] = {}

    async def build() -> None:
        for host in HOSTS:
            if base:
                name = f"{make_url(base).database}_fed_{host[0]}"
                await _create_database(base, name)
                urls[host] = make_url(base).set(database=name).render_as_string(hide_password=False)
            else:
                urls[host] = f"sqlite+aiosqlite:///{folder / (host + '.sqlite3')}"
            await _build_schema(urls[host])

    asyncio.run(build())
    return urls


def side_settings(url: str, tmp_path: Path, host: str, **overrides: Any) -> Settings:
    return make_settings(
        url, tmp_path / host, base_url=f"https://{host}", dev_mode=True, instance_name=host, **overrides
    )


@pytest.fixture
def federation_overrides() -> dict[str, dict[str, Any]]:
    """Override in a test module: settings per host, e.g. ``{"b.test": {"federation_allowlist_only": True}}``."""
    return {}


@pytest.fixture
async def pair(
    federation_databases: dict[str, str], tmp_path: Path, federation_overrides: dict[str, dict[str, Any]]
) -> AsyncIterator[Pair]:
    router = Router()
    apps = {}
    for index, host in enumerate(HOSTS):
        settings = side_settings(federation_databases[host], tmp_path, host, **federation_overrides.get(host, {}))
        apps[host] = create_app(settings, http_transport=router)
        await _empty_tables(apps[host].state.instance)
        router.add(host, apps[host], f"203.0.113.{index + 1}")
    a_app, b_app = apps["a.test"], apps["b.test"]
    async with a_app.router.lifespan_context(a_app), b_app.router.lifespan_context(b_app):
        yield Pair(Side("a.test", apps["a.test"]), Side("b.test", apps["b.test"]), router)
