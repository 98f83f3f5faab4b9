"""``benevalibre backup`` and ``benevalibre restore``: the database and the secret key, together.

SQLite is copied with SQLite's online backup API: a consistent snapshot of the live database, safe while the
web processes and the worker write. PostgreSQL is dumped with ``pg_dump`` (custom format) and restored with
``pg_restore``; when they are not installed, the exact command to run is printed instead. The secret key
(which also seals the federation keys stored in the database) is copied next to the backup as
``<backup>.secret_key`` when it lives in the data folder.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from instance.db import create_engine
from instance.settings import ENV_PREFIX, Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
KEY_SUFFIX = ".secret_key"


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Outcome:
    status: int  # 0 done, 1 not done (the message says what to run instead)
    lines: list[str]


def default_output(settings: Settings) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    suffix = "sqlite3" if settings.is_sqlite else "pgdump"
    return Path(settings.data_dir) / "backups" / f"benevalibre-{stamp}.{suffix}"


def sqlite_file(settings: Settings) -> Path:
    database = make_url(settings.database).database
    if not database or database == ":memory:":
        raise BackupError("The SQLite database is in memory: there is nothing to back up.")
    return Path(database)


def key_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "secret_key"


def _private(path: Path) -> None:
    path.chmod(0o600)


# -- libpq -------------------------------------------------------------------------------------------------------


def libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """The libpq URL of the database (no password) and the environment that carries the password."""
    url: URL = make_url(settings.database)
    query = dict(url.query)
    ssl = query.pop("ssl", None)
    if ssl and "sslmode" not in query:
        query["sslmode"] = "require" if ssl in ("true", "True", "1") else str(ssl)
    plain = url.set(drivername="postgresql", password=None, query=query)
    env = {"PGPASSWORD": url.password} if url.password else {}
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(  # noqa: S603 (a fixed program and our own arguments)
        command, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed ({result.returncode}):\n{result.stderr.strip()}")


def _printable(command: list[str], env: dict[str, str]) -> str:
    prefix = "PGPASSWORD=<the database password> " if env else ""
    return prefix + shlex.join(command)


# -- backup ------------------------------------------------------------------------------------------------------


def backup(settings: Settings, output: Path | None) -> Outcome:
    target = output or default_output(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    if settings.is_sqlite:
        source = sqlite_file(settings)
        if not source.exists():
            raise BackupError(f"No database at {source}: run `benevalibre init` first.")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
            live.backup(copy)
        live.close()
        copy.close()
        os.replace(partial, target)
        _private(target)
    else:
        url, env = libpq(settings)
        command = ["pg_dump", "--format=custom", "--no-owner", "--no-acl", f"--file={target}", f"--dbname={url}"]
        if shutil.which("pg_dump") is None:
            return Outcome(1, ["pg_dump is not installed here. Run this where it is:", _printable(command, env)])
        _run(command, env)
        _private(target)
    lines = [f"Database saved to {target}"]
    lines.append(_backup_key(settings, target))
    return Outcome(0, lines)


def _backup_key(settings: Settings, target: Path) -> str:
    source = key_file(settings)
    if settings.secret_key:
        return f"The secret key comes from {ENV_PREFIX}SECRET_KEY: keep a copy of it with this backup."
    if not source.exists():
        return "No secret key file yet (it is created at the first start)."
    copy = target.with_name(target.name + KEY_SUFFIX)
    shutil.copyfile(source, copy)
    _private(copy)
    return f"Secret key saved to {copy}"


# -- restore -----------------------------------------------------------------------------------------------------


def backup_kind(path: Path) -> str:
    if not path.is_file():
        raise BackupError(f"No backup file at {path}.")
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither a SQLite database nor a pg_dump archive (custom format).")


async def database_has_tables(settings: Settings) -> bool:
    if settings.is_sqlite and not sqlite_file(settings).exists():
        return False
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return bool(names)


async def restore(settings: Settings, path: Path, force: bool) -> Outcome:
    kind = backup_kind(path)
    expected = "sqlite" if settings.is_sqlite else "postgresql"
    if kind != expected:
        raise BackupError(f"{path} is a {kind} backup but the configured database is {expected}.")
    if await database_has_tables(settings) and not force:
        raise BackupError("The database is not empty. Add --force to replace everything in it with the backup.")
    key_line = _check_key(settings, path, force)
    if kind == "sqlite":
        target = sqlite_file(settings)
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as saved, sqlite3.connect(target) as live:
            saved.backup(live)
        saved.close()
        live.close()
    else:
        url, env = libpq(settings)
        command = ["pg_restore", "--no-owner", "--no-acl", "--single-transaction", f"--dbname={url}"]
        if force:
            command[1:1] = ["--clean", "--if-exists"]
        command.append(str(path))
        if shutil.which("pg_restore") is None:
            return Outcome(1, ["pg_restore is not installed here. Run this where it is:", _printable(command, env)])
        _run(command, env)
    lines = [f"Database restored from {path}"]
    if key_line:
        lines.append(key_line)
    lines.append("Run `benevalibre init` to bring it to this version's latest migration, then start the instance.")
    return Outcome(0, lines)


def _check_key(settings: Settings, path: Path, force: bool) -> str:
    """Put the backup's secret key in the data folder (before touching the database, to refuse early)."""
    saved = path.with_name(path.name + KEY_SUFFIX)
    if not saved.exists():
        return "No secret key file next to the backup: the instance must use the key it had when backed up."
    key = saved.read_text().strip()
    if settings.secret_key:
        if settings.secret_key != key:
            return f"Warning: {ENV_PREFIX}SECRET_KEY differs from the backup's key; set it to the saved one."
        return ""
    target = key_file(settings)
    if target.exists() and target.read_text().strip() != key and not force:
        raise BackupError(f"{target} holds another secret key. Add --force to replace it with the backup's.")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(key + "\n")
    _private(target)
    return f"Secret key restored to {target}"
