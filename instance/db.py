"""The database: engine, sessions, SQLite pragmas and the migration check."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from instance import sqlite_driver
from instance.errors import NotMigrated
from instance.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_engine(settings: Settings, **options: Any) -> AsyncEngine:
    url = settings.database
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {"timeout": 30})
        if url.startswith("sqlite+aiosqlite"):
            options.setdefault("module", sqlite_driver.module())
    else:
        options.setdefault("pool_pre_ping", True)
        # Plans made for the values at hand: associations differ in size by orders of magnitude, and a generic
        # plan for one statement (as asyncpg's prepared statements get after five runs) can be 10x too slow.
        options.setdefault("connect_args", {"server_settings": {"plan_cache_mode": "force_custom_plan"}})
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-32768")  # 32 MiB of page cache per connection
    cursor.close()


# PostgreSQL SQLSTATEs that mean "not reachable now": class 08 (connection exception), the server shutting down or
# starting up (57P01-57P03), too many connections (53300).
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# SQLite's primary result codes that pass: busy, locked, read-only, I/O error, disk full, cannot open the file.
_UNAVAILABLE_SQLITE_CODES = frozenset({5, 6, 8, 10, 13, 14})
_DRIVER_MODULES = ("asyncpg", "aiosqlite", "sqlalchemy", "instance.sqlite_driver")


def _raised_by_driver(traceback: TracebackType | None) -> bool:
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(_DRIVER_MODULES):
            return True
        traceback = traceback.tb_next
    return False


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached or used just now (stopped, restarting, unreachable,
    out of connections, SQLite's file locked or unwritable), as opposed to a fault in a query: what is worth
    answering "try again later" and retrying without counting it against a row."""
    todo: list[BaseException] = [error]
    seen: set[int] = set()
    while todo and len(seen) < 20:
        found = todo.pop()
        if id(found) in seen:
            continue
        seen.add(id(found))
        if isinstance(found, sa_exc.DBAPIError) and found.connection_invalidated:
            return True
        if isinstance(found, sa_exc.TimeoutError):  # no connection free in the pool in time
            return True
        if isinstance(found, OSError) and _raised_by_driver(found.__traceback__):  # refused, reset, timed out
            return True
        state = getattr(found, "sqlstate", None) or getattr(found, "pgcode", None)
        if isinstance(state, str) and (state.startswith("08") or state in _UNAVAILABLE_SQLSTATES):
            return True
        code = getattr(found, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _UNAVAILABLE_SQLITE_CODES:
            return True
        causes = (getattr(found, "orig", None), found.__cause__, found.__context__)
        todo.extend(cause for cause in causes if isinstance(cause, BaseException))
    return False


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", settings.database)
    return config


def head_revision() -> str | None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def check_migrations(engine: AsyncEngine) -> None:
    """Raise :class:`NotMigrated` unless the database is at the latest migration."""
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    head = head_revision()
    if current != head:
        raise NotMigrated(current, head)


def upgrade_sync(connection: Connection) -> None:
    """Bring the database reachable through ``connection`` to the latest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Migrate to the latest schema. On SQLite, foreign keys are off meanwhile: a migration that changes a table
    rebuilds it (copy, drop, rename), and dropping a parent table with them on would empty its children."""
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, where SQLite honours it
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await connection.run_sync(upgrade_sync)
        await connection.commit()
        if sqlite:
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
