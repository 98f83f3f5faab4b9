"""Migrations: they build exactly the schema of the models, and the app refuses an unmigrated database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from instance.db import create_engine, upgrade
from instance.errors import NotMigrated
from instance.models import Base
from instance.settings import Settings
from web.app import create_app


@pytest.fixture
async def empty_database(tmp_path: Path) -> AsyncIterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database beside the test one."""
    url = os.environ.get("BENEVALIBRE_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"{make_url(url).database}_migrations"
    admin = create_engine(Settings(database_url=url, secret_key="x"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_the_schema_of_the_models(empty_database: str) -> None:
    engine = create_engine(Settings(database_url=empty_database, secret_key="x"))
    try:
        await upgrade(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == [], "models changed without a migration: run tools/new_migration.py"


async def test_app_refuses_to_start_on_an_unmigrated_database(empty_database: str, tmp_path: Path) -> None:
    settings = Settings(database_url=empty_database, secret_key="x", data_dir=str(tmp_path))
    app = create_app(settings)
    with pytest.raises(NotMigrated, match="benevalibre init"):
        async with app.router.lifespan_context(app):
            pass
