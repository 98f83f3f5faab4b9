"""``benevalibre backup``, ``restore`` and ``check`` run as real processes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import Connection, delete, make_url, select, text

from instance.db import alembic_config, create_engine
from instance.models import (
    Announcement,
    Audience,
    Base,
    Category,
    FederatedDomain,
    Flag,
    Follow,
    FollowState,
    RemoteActor,
    SiteSettings,
    TimeEntry,
)
from instance.runtime import Instance
from instance.services.accounts import create_user
from instance.services.associations import create_association
from instance.settings import Settings

BENEVALIBRE = str(Path(sys.executable).parent / "benevalibre")
TEST_URL = os.environ.get("BENEVALIBRE_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_URL.startswith("postgresql")
SECRET = "s" * 48


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BENEVALIBRE_")}
    return subprocess.run(  # noqa: S603 (our own command)
        [BENEVALIBRE, *args], capture_output=True, text=True, env={**clean, **env}, timeout=120, check=False
    )


def _schema(connection: Connection, settings: Settings) -> None:
    Base.metadata.create_all(connection)
    config = alembic_config(settings)
    config.attributes["connection"] = connection
    command.stamp(config, "head")


async def create_schema(settings: Settings) -> None:
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.run_sync(_schema, settings)
    await engine.dispose()


async def populate(settings: Settings) -> None:
    """An instance with accounts, an association, an entry, federation state and admin-side rows."""
    instance = Instance.create(settings)
    try:
        async with instance.sessions() as db:
            owner = await create_user(
                db,
                email="lea@example.org",
                password="a long password",
                handle="lea",
                display_name="Léa",
                active=True,
                admin=True,
            )
            association = await create_association(db, instance.settings, owner, handle="jardins", name="Jardins")
            category = await db.scalar(select(Category).where(Category.association_id == association.id))
            assert category is not None
            db.add(
                TimeEntry(
                    association_id=association.id,
                    user_id=owner.id,
                    category_id=category.id,
                    start_date=dt.date(2024, 3, 2),
                    duration_minutes=150,
                    title="Semis",
                )
            )
            db.add(FederatedDomain(domain="bad.example", blocked=True, reason="spam"))
            db.add(RemoteActor(uri="https://b.example/u/zoe", domain="b.example", inbox="https://b.example/inbox"))
            db.add(
                Follow(
                    activity_id="https://b.example/f/1",
                    follower_uri="https://b.example/u/zoe",
                    followed_uri="https://a.test/associations/jardins",
                    association_id=association.id,
                    state=FollowState.ACCEPTED,
                )
            )
            db.add(SiteSettings(id=1, instance_name="Jardins partagés", charter="Soyons polis."))
            db.add(Announcement(title="Bienvenue", audience=Audience.USERS))
            db.add(Flag(reporter_id=owner.id, target_kind="association", target_ref="jardins", reason="test"))
            await db.commit()
    finally:
        await instance.close()


async def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary key order."""
    engine = create_engine(Settings(database_url=database_url, secret_key="x"))
    rows: dict[str, list[tuple[Any, ...]]] = {}
    try:
        async with engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                result = await connection.execute(select(table).order_by(*table.primary_key.columns))
                rows[table.name] = [tuple(row) for row in result]
            rows["alembic_version"] = [
                tuple(r) for r in await connection.execute(text("SELECT * FROM alembic_version"))
            ]
    finally:
        await engine.dispose()
    return rows


# -- SQLite -----------------------------------------------------------------------------------------------------


def sqlite_env(data_dir: Path) -> dict[str, str]:
    return {"BENEVALIBRE_DATA_DIR": str(data_dir), "BENEVALIBRE_BASE_URL": "https://a.test"}


def test_backup_then_restore_round_trips_a_sqlite_instance(tmp_path: Path) -> None:
    source_dir, target_dir = tmp_path / "source", tmp_path / "target"
    source = Settings(data_dir=str(source_dir)).with_secret()  # the key file, as a first start makes it
    asyncio.run(create_schema(source))
    asyncio.run(populate(source))
    saved = tmp_path / "saved" / "instance.sqlite3"

    made = cli(sqlite_env(source_dir), "backup", "--output", str(saved))

    assert made.returncode == 0, made.stderr
    assert saved.exists() and (saved.parent / "instance.sqlite3.secret_key").read_text().strip() == source.secret_key
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    restored = cli(sqlite_env(target_dir), "restore", str(saved))
    assert restored.returncode == 0, restored.stderr
    target_url = Settings(data_dir=str(target_dir)).database
    before = asyncio.run(snapshot(source.database))
    assert before["users"] and before["follows"] and before["federated_domains"] and before["time_entries"]
    assert asyncio.run(snapshot(target_url)) == before
    assert (target_dir / "secret_key").read_text().strip() == source.secret_key

    refused = cli(sqlite_env(target_dir), "restore", str(saved))
    assert refused.returncode == 2 and "not empty" in refused.stderr
    asyncio.run(_delete_entries(target_url))
    forced = cli(sqlite_env(target_dir), "restore", "--force", str(saved))
    assert forced.returncode == 0, forced.stderr
    assert asyncio.run(snapshot(target_url)) == before


async def _delete_entries(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url, secret_key="x"))
    async with engine.begin() as connection:
        await connection.execute(delete(TimeEntry))
    await engine.dispose()


def test_backup_names_its_file_by_date_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "data")).with_secret()
    asyncio.run(create_schema(settings))

    made = cli(sqlite_env(tmp_path / "data"), "backup")

    assert made.returncode == 0, made.stderr
    files = sorted(p.name for p in (tmp_path / "data" / "backups").iterdir())
    assert len(files) == 2 and files[0].startswith("benevalibre-") and files[1].endswith(".sqlite3.secret_key")


def test_restore_refuses_what_is_not_a_backup_and_a_different_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "a")).with_secret()
    asyncio.run(create_schema(settings))
    saved = tmp_path / "saved.sqlite3"
    assert cli(sqlite_env(tmp_path / "a"), "backup", "--output", str(saved)).returncode == 0
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup")
    other = tmp_path / "b"
    Settings(data_dir=str(other)).with_secret()  # another instance's key

    assert "neither a SQLite database" in cli(sqlite_env(other), "restore", str(junk)).stderr
    different = cli(sqlite_env(other), "restore", str(saved))
    assert different.returncode == 2 and "holds another secret key" in different.stderr
    assert not (other / "benevalibre.sqlite3").exists()


# -- PostgreSQL -------------------------------------------------------------------------------------------------


def pg_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "BENEVALIBRE_DATABASE_URL": database_url,
        "BENEVALIBRE_DATA_DIR": str(data_dir),
        "BENEVALIBRE_BASE_URL": "https://a.test",
        "BENEVALIBRE_SECRET_KEY": SECRET,
    }


async def _admin_execute(url: str, statement: str) -> None:
    parts = make_url(url)
    connection = await asyncpg.connect(
        user=parts.username, password=parts.password, host=parts.host, port=parts.port or 5432, database="postgres"
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.mark.skipif(not ON_POSTGRES, reason="runs when the suite runs on PostgreSQL (BENEVALIBRE_TEST_DATABASE_URL)")
@pytest.mark.skipif(shutil.which("pg_dump") is None or shutil.which("pg_restore") is None, reason="no pg_dump")
async def test_backup_then_restore_round_trips_a_postgresql_instance(tmp_path: Path) -> None:
    base = make_url(TEST_URL)
    names = [f"{base.database}_bk_{uuid.uuid4().hex[:8]}_{side}" for side in ("src", "dst")]
    urls = [base.set(database=name).render_as_string(hide_password=False) for name in names]
    for name in names:
        await _admin_execute(TEST_URL, f'CREATE DATABASE "{name}"')
    try:
        source = Settings(database_url=urls[0], secret_key=SECRET, data_dir=str(tmp_path / "src"))
        await create_schema(source)
        await populate(source)
        saved = tmp_path / "instance.pgdump"

        made = await asyncio.to_thread(cli, pg_env(urls[0], tmp_path / "src"), "backup", "--output", str(saved))
        assert made.returncode == 0, made.stderr
        assert saved.read_bytes().startswith(b"PGDMP") and "BENEVALIBRE_SECRET_KEY" in made.stdout
        restored = await asyncio.to_thread(cli, pg_env(urls[1], tmp_path / "dst"), "restore", str(saved))
        assert restored.returncode == 0, restored.stderr
        before = await snapshot(urls[0])
        assert before["users"] and before["follows"] and before["time_entries"]
        assert await snapshot(urls[1]) == before

        refused = await asyncio.to_thread(cli, pg_env(urls[1], tmp_path / "dst"), "restore", str(saved))
        assert refused.returncode == 2 and "not empty" in refused.stderr
        await _delete_entries(urls[1])
        forced = await asyncio.to_thread(cli, pg_env(urls[1], tmp_path / "dst"), "restore", "--force", str(saved))
        assert forced.returncode == 0, forced.stderr
        assert await snapshot(urls[1]) == before
    finally:
        for name in names:
            await _admin_execute(TEST_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- check ------------------------------------------------------------------------------------------------------


def test_check_passes_a_good_configuration(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    asyncio.run(create_schema(Settings(data_dir=str(data_dir), secret_key=SECRET)))
    env = {
        "BENEVALIBRE_DATA_DIR": str(data_dir),
        "BENEVALIBRE_BASE_URL": "https://benevalibre.example.org",
        "BENEVALIBRE_SECRET_KEY": SECRET,
        "BENEVALIBRE_SMTP_HOST": "smtp.example.org",
        "BENEVALIBRE_MAIL_FROM": "benevalibre@example.org",
    }

    result = cli(env, "check")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "fit to run an instance (0 warning(s))" in result.stdout


def test_check_lists_what_is_wrong(tmp_path: Path) -> None:
    env = {
        "BENEVALIBRE_DATA_DIR": str(tmp_path / "data"),
        "BENEVALIBRE_BASE_URL": "http://benevalibre.example.org",
        "BENEVALIBRE_DEV_MODE": "true",
        "BENEVALIBRE_SECRET_KEY": "short",
    }

    result = cli(env, "check")

    assert result.returncode == 1
    out = result.stdout
    assert "error: BENEVALIBRE_BASE_URL uses http" in out
    assert "error: BENEVALIBRE_DEV_MODE is on" in out
    assert "error: BENEVALIBRE_SECRET_KEY has 5 characters" in out
    assert "error: No database at" in out
    assert "warning: BENEVALIBRE_SMTP_HOST is empty" in out
    assert "4 error(s) to fix" in out
    assert not (tmp_path / "data").exists()  # check creates nothing


def test_check_reports_an_unreachable_or_unmigrated_database(tmp_path: Path) -> None:
    env = {
        "BENEVALIBRE_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/nothing",
        "BENEVALIBRE_DATA_DIR": str(tmp_path),
        "BENEVALIBRE_SECRET_KEY": SECRET,
    }
    unreachable = cli(env, "check")
    assert unreachable.returncode == 1 and "error: Cannot reach the database" in unreachable.stdout

    empty = tmp_path / "benevalibre.sqlite3"
    empty.touch()
    unmigrated = cli({"BENEVALIBRE_DATA_DIR": str(tmp_path), "BENEVALIBRE_SECRET_KEY": SECRET}, "check")
    assert unmigrated.returncode == 1 and "Run `benevalibre init`" in unmigrated.stdout
