"""Upgrading: an instance created by the first migration, with people, an association, entries and federation
state written by that version, is migrated to the latest migration; its rows are intact and the app serves them."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from instance.db import alembic_config, create_engine, upgrade
from instance.models.base import UTCDateTime
from instance.security import hash_password
from instance.settings import Settings
from tests.conftest import PASSWORD, log_in, make_settings
from web.app import create_app

FIRST = "0001"
WHEN = dt.datetime(2025, 3, 8, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
async def old_database(tmp_path: Path) -> AsyncIterator[str]:
    """A new database (SQLite file, or a PostgreSQL database beside the test one) built by the first migration."""
    url = os.environ.get("BENEVALIBRE_TEST_DATABASE_URL")
    admin = None
    if url:
        name = f"{make_url(url).database}_upgrade"
        admin = create_engine(Settings(database_url=url, secret_key="x"), isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        target = make_url(url).set(database=name).render_as_string(hide_password=False)
    else:
        target = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    settings = Settings(database_url=target, secret_key="x")
    engine = create_engine(settings)

    def to_first(connection: Connection) -> None:
        config = alembic_config(settings)
        config.attributes["connection"] = connection
        command.upgrade(config, FIRST)

    async with engine.begin() as connection:
        await connection.run_sync(to_first)
    await engine.dispose()
    try:
        yield target
    finally:
        if admin is not None:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(target).database}" WITH (FORCE)'))
            await admin.dispose()


async def insert(connection: AsyncConnection, table: str, **values: Any) -> None:
    """One row written with plain SQL, as the first version's code would have left it."""
    names = ", ".join(values)
    statement = text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + name for name in values)})")  # noqa: S608 (names written here)
    stamps = [bindparam(name, type_=UTCDateTime()) for name, value in values.items() if isinstance(value, dt.datetime)]
    await connection.execute(statement.bindparams(*stamps), values)


async def fill(connection: AsyncConnection) -> None:
    """A user (admin), an association with a manager role, a category, an approved entry, a remote follower
    and its cached actor, a known domain and a delivery waiting for it."""
    await insert(connection, "handles", handle="alice", kind="user")
    await insert(connection, "handles", handle="amis", kind="association")
    await insert(
        connection,
        "users",
        id=1,
        email="alice@example.org",
        handle="alice",
        password_hash=hash_password(PASSWORD),
        display_name="Alice Martin",
        pseudonym="",
        language="en",
        is_active=True,
        is_admin=True,
        is_suspended=False,
        created_at=WHEN,
        confirmed_at=WHEN,
        password_changed_at=WHEN,
    )
    await insert(
        connection,
        "associations",
        id=1,
        handle="amis",
        name="Les Amis du Quartier",
        name_key="les amis du quartier",
        description="",
        website="",
        activity_fields="[]",
        country="FR",
        postal_code="",
        has_employees=False,
        hidden=False,
        moderate_membership=False,
        moderate_entries=True,
        status="ACTIVE",
        status_message="",
        created_at=WHEN,
        has_logo=False,
    )
    await insert(
        connection,
        "roles",
        id=1,
        association_id=1,
        name="Manager",
        description="",
        is_default=False,
        list_members=True,
        manage_members=True,
        manage_entries=True,
        manage_categories=True,
        manage_levels=True,
        manage_projects=True,
        manage_roles=True,
        manage_association=True,
    )
    await insert(
        connection,
        "memberships",
        id=1,
        association_id=1,
        user_id=1,
        role_id=1,
        status="ACTIVE",
        message="",
        created_at=WHEN,
    )
    await insert(
        connection,
        "categories",
        id=1,
        association_id=1,
        name="Accueil",
        description="",
        common_category="",
        archived=False,
        created_at=WHEN,
    )
    await insert(
        connection,
        "time_entries",
        id=1,
        association_id=1,
        user_id=1,
        participant_name="",
        category_id=1,
        start_date=WHEN.date(),
        duration_minutes=150,
        distance_km=0,
        title="Tri des dons du samedi",
        description="",
        status="APPROVED",
        rejection_reason="",
        created_at=WHEN,
        updated_at=WHEN,
    )
    await insert(
        connection,
        "follows",
        id=1,
        activity_id="https://b.example/activities/follow-1",
        follower_uri="https://b.example/users/bob",
        followed_uri="https://a.test/associations/amis",
        association_id=1,
        state="ACCEPTED",
        created_at=WHEN,
    )
    await insert(
        connection,
        "remote_actors",
        id=1,
        uri="https://b.example/users/bob",
        domain="b.example",
        actor_type="Person",
        inbox="https://b.example/users/bob/inbox",
        shared_inbox="https://b.example/inbox",
        key_id="https://b.example/users/bob#main-key",
        public_key_pem="",
        assertion_methods="[]",
        name="Bob",
        preferred_username="bob",
        manually_approves=False,
        url="",
        fetched_at=WHEN,
    )
    await insert(
        connection,
        "federated_domains",
        id=1,
        domain="b.example",
        software="mastodon",
        blocked=False,
        allowed=False,
        reason="",
        created_at=WHEN,
    )
    await insert(
        connection,
        "deliveries",
        id=1,
        activity_id="https://a.test/activities/accept-1",
        inbox="https://b.example/inbox",
        domain="b.example",
        signer="association:1",
        body='{"type": "Accept"}',
        state="PENDING",
        attempts=2,
        next_attempt_at=WHEN,
        last_error="HTTP 503: busy",
        created_at=WHEN,
    )


async def test_a_first_version_instance_upgrades_and_serves_its_data(old_database: str, tmp_path: Path) -> None:
    settings = make_settings(old_database, tmp_path, worker_in_process=False)
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await fill(connection)
        await upgrade(engine)
        async with engine.connect() as connection:
            entry = (await connection.execute(text("SELECT title, duration_minutes, status FROM time_entries"))).one()
            follow = (await connection.execute(text("SELECT follower_uri, state FROM follows"))).one()
            waiting = (await connection.execute(text("SELECT state, attempts, last_error FROM deliveries"))).one()
            user = (await connection.execute(text("SELECT email, is_admin FROM users"))).one()
    finally:
        await engine.dispose()
    assert tuple(entry) == ("Tri des dons du samedi", 150, "APPROVED")
    assert tuple(follow) == ("https://b.example/users/bob", "ACCEPTED")
    assert tuple(waiting) == ("PENDING", 2, "HTTP 503: busy")
    assert tuple(user) == ("alice@example.org", True)

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url)
        browser.headers["Accept-Language"] = "en"
        await log_in(browser, "alice@example.org")
        assert "Les Amis du Quartier" in (await browser.get("/associations/amis")).text
        assert "Tri des dons du samedi" in (await browser.get("/entries")).text
        instances = await browser.get("/admin/federation")
        assert "b.example" in instances.text and "mastodon" in instances.text
        assert "@bob@b.example" in (await browser.get("/admin/federation/actors")).text
        assert "HTTP 503: busy" in (await browser.get("/admin/federation/queue")).text
        await browser.aclose()
