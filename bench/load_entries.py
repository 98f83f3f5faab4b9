"""Load a large synthetic instance for the report benchmarks (``bench/stats_and_export.py``).

    .venv/bin/python bench/load_entries.py                       # 1,000,000 entries in bench/data/bench.sqlite3
    .venv/bin/python bench/load_entries.py --entries 100000 --url postgresql+asyncpg://postgres@127.0.0.1/bench

The database is emptied and rebuilt (schema from the models, stamped at the latest migration). Association
sizes follow a Zipf-like law (weight 1/rank^0.8), so that the largest of 200 associations holds about 10 % of
the entries (100,000 of 1,000,000); volunteers are members of one to three associations; entries spread
over the last ``--years`` calendar years up to today, 90 % approved. Small tables go through SQLAlchemy; entries use the
driver's fast path (SQLite ``executemany``, PostgreSQL ``COPY``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import datetime as dt
import itertools
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, insert, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from instance import reference
from instance.db import alembic_config, create_engine
from instance.models import (
    Association,
    Base,
    Category,
    EntryStatus,
    Handle,
    Level,
    Membership,
    MembershipStatus,
    Project,
    Role,
    TimeEntry,
    User,
)
from instance.models.summary_upkeep import rebuild_summaries
from instance.settings import Settings

DEFAULT_URL = f"sqlite+aiosqlite:///{Path(__file__).resolve().parent / 'data' / 'bench.sqlite3'}"
ENTRY_COLUMNS = (
    "id", "association_id", "user_id", "participant_name", "category_id", "level_id", "project_id", "start_date",
    "end_date", "duration_minutes", "distance_km", "title", "description", "status", "rejection_reason",
    "created_at", "updated_at",
)  # fmt: skip
LEVELS = (("Bénévole", Decimal("11.88")), ("Animateur·rice", Decimal("15.00")), ("Encadrant·e", Decimal("22.50")))
TITLES = ("Permanence", "Réunion du bureau", "Distribution", "Atelier vélo", "Accueil du public", "Comptabilité")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="SQLAlchemy async URL (default: %(default)s)")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--associations", type=int, default=200)
    parser.add_argument("--volunteers", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=3, help="calendar years, ending with the current one")
    parser.add_argument("--seed", type=int, default=2025)
    return parser.parse_args()


def _reset_schema(connection: Connection, settings: Settings) -> None:
    Base.metadata.drop_all(connection)
    connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    Base.metadata.create_all(connection)
    config = alembic_config(settings)
    config.attributes["connection"] = connection
    command.stamp(config, "head")


def weights(count: int) -> list[float]:
    return [1 / (rank + 1) ** 0.8 for rank in range(count)]


class Plan:
    """Ids of everything, decided up front so that rows can reference each other without round trips."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.rng = random.Random(args.seed)
        self.args = args
        self.weights = weights(args.associations)
        self.cumulative = list(itertools.accumulate(self.weights))
        self.members: list[list[int]] = [[] for _ in range(args.associations)]
        for user in range(1, args.volunteers + 1):
            for association in {self.pick_association() for _ in range(self.rng.choice((1, 1, 2, 3)))}:
                self.members[association].append(user)
        for index, members in enumerate(self.members):
            if not members:
                members.append(self.rng.randint(1, args.volunteers))
            self.members[index] = sorted(set(members))
        self.categories = len(reference.common_categories())
        this_year = dt.date.today().year
        self.first_day = dt.date(this_year - args.years + 1, 1, 1)
        self.days = (dt.date.today() - self.first_day).days + 1  # nothing in the future

    def pick_association(self) -> int:
        return bisect.bisect(self.cumulative, self.rng.random() * self.cumulative[-1])

    def association_id(self, index: int) -> int:
        return index + 1

    def category_id(self, index: int, code_index: int) -> int:
        return index * self.categories + code_index + 1

    def level_id(self, index: int, level: int) -> int:
        return index * len(LEVELS) + level + 1

    def project_id(self, index: int, project: int) -> int:
        return index * 5 + project + 1

    def role_id(self, index: int, role: int) -> int:
        return index * 3 + role + 1


async def load_small_tables(connection: AsyncConnection, plan: Plan) -> None:
    args = plan.args
    now = dt.datetime.now(dt.UTC)
    handles = [{"handle": f"benevole{u}", "kind": "user"} for u in range(1, args.volunteers + 1)]
    handles += [{"handle": f"asso{a + 1}", "kind": "association"} for a in range(args.associations)]
    await connection.execute(insert(Handle), handles)
    users = [
        {
            "id": u,
            "email": f"benevole{u}@bench.example",
            "handle": f"benevole{u}",
            "display_name": f"Bénévole {u}",
            "password_hash": "!",
            "is_active": True,
            "is_admin": u == 1,
            "created_at": now,
            "password_changed_at": now,
        }
        for u in range(1, args.volunteers + 1)
    ]
    await connection.execute(insert(User), users)
    associations, roles, categories, levels, projects, memberships = [], [], [], [], [], []
    defaults = reference.default_roles()
    for index in range(args.associations):
        association_id = plan.association_id(index)
        name = f"Association {index + 1}"
        associations.append(
            {"id": association_id, "handle": f"asso{index + 1}", "name": name, "name_key": name.casefold()}
        )
        for number, role in enumerate(defaults):
            values = {"id": plan.role_id(index, number), "association_id": association_id, "name": role.name}
            values.update(
                {p: (p in role.permissions) for p in ("list_members", "manage_entries", "manage_association")}
            )
            roles.append({**values, "is_default": role.is_default})
        for number, common in enumerate(reference.common_categories()):
            categories.append(
                {"id": plan.category_id(index, number), "association_id": association_id, "name": common.fr,
                 "common_category": common.code}
            )  # fmt: skip
        for number, (level_name, rate) in enumerate(LEVELS):
            levels.append(
                {"id": plan.level_id(index, number), "association_id": association_id, "name": level_name,
                 "hourly_rate": rate}
            )  # fmt: skip
        for number in range(5):
            projects.append({"id": plan.project_id(index, number), "association_id": association_id,
                             "name": f"Projet {number + 1}"})  # fmt: skip
        for position, user in enumerate(plan.members[index]):
            role_number = 2 if position == 0 else 0  # the first member manages the association (Dirigeant)
            memberships.append(
                {"association_id": association_id, "user_id": user, "role_id": plan.role_id(index, role_number),
                 "status": MembershipStatus.ACTIVE}
            )  # fmt: skip
    for model, rows in (
        (Association, associations),
        (Role, roles),
        (Category, categories),
        (Level, levels),
        (Project, projects),
        (Membership, memberships),
    ):
        for start in range(0, len(rows), 5000):
            await connection.execute(insert(model), rows[start : start + 5000])


def entry_rows(plan: Plan, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    rng, args = plan.rng, plan.args
    statuses = [EntryStatus.APPROVED] * 18 + [EntryStatus.PENDING, EntryStatus.REJECTED]
    stored = dict(zip(EntryStatus, TimeEntry.__table__.c.status.type.enums, strict=True))  # type: ignore[attr-defined]
    stamp: Any = "2025-01-01 00:00:00.000000" if sqlite else dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for number in range(1, args.entries + 1):
        index = plan.pick_association()
        day = plan.first_day + dt.timedelta(days=rng.randrange(plan.days))
        level = rng.randrange(len(LEVELS) + 1)
        project = rng.randrange(6)
        status = rng.choice(statuses)
        distance = rng.choice((0, 0, 0, 5, 12, 30))
        yield (
            number,
            plan.association_id(index),
            rng.choice(plan.members[index]),
            "",
            plan.category_id(index, rng.randrange(plan.categories)),
            plan.level_id(index, level) if level < len(LEVELS) else None,
            plan.project_id(index, project) if project < 5 else None,
            day.isoformat() if sqlite else day,
            None,
            rng.choice((30, 60, 90, 120, 150, 180, 240)),
            float(distance) if sqlite else Decimal(distance),
            rng.choice(TITLES),
            "",
            stored[status],
            "",
            stamp,
            stamp,
        )


async def load_entries(engine: AsyncEngine, plan: Plan) -> None:
    """Insert the entries without their indexes, then build the indexes (much faster than row by row)."""
    sqlite = engine.dialect.name == "sqlite"
    rows = entry_rows(plan, sqlite)
    indexes = list(Base.metadata.tables["time_entries"].indexes)
    async with engine.begin() as connection:
        for index in indexes:
            await connection.run_sync(index.drop)
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        if sqlite:
            await raw.execute("PRAGMA synchronous=OFF")
        while batch := list(itertools.islice(rows, 50_000)):
            if sqlite:
                columns = ", ".join(ENTRY_COLUMNS)
                marks = ", ".join("?" * len(ENTRY_COLUMNS))
                await raw.executemany(f"INSERT INTO time_entries ({columns}) VALUES ({marks})", batch)  # noqa: S608
                await raw.commit()
            else:
                await raw.copy_records_to_table("time_entries", records=batch, columns=list(ENTRY_COLUMNS))
            print(f"  {batch[-1][0]:>9} entries", flush=True)
    async with engine.begin() as connection:
        for index in indexes:
            await connection.run_sync(index.create)


async def create_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` when it does not exist (the server's ``postgres`` one serves to)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return
    server = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            found = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            )
            if not found:
                await connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        await server.dispose()


async def main() -> None:
    args = parse_args()
    data_dir = str(Path(__file__).parent / "data")
    settings = Settings(database_url=args.url, secret_key="bench", data_dir=data_dir)  # noqa: S106
    await create_database(args.url)
    engine = create_engine(settings)
    started = time.perf_counter()
    async with engine.begin() as connection:
        await connection.run_sync(_reset_schema, settings)
    plan = Plan(args)
    async with engine.begin() as connection:
        await load_small_tables(connection, plan)
    print(f"accounts, associations and catalogs loaded in {time.perf_counter() - started:.1f} s", flush=True)
    await load_entries(engine, plan)
    async with engine.begin() as connection:  # the entries were written past the ORM: summarise them once
        await connection.run_sync(rebuild_summaries)
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("users", "associations", "roles", "categories", "levels", "projects", "time_entries"):
                sql = f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"  # noqa: S608 (fixed names)
                await connection.execute(text(sql))
            await connection.execute(text("ANALYZE"))
        else:
            await connection.execute(text("ANALYZE"))
    await engine.dispose()
    print(f"{args.entries} entries loaded in {time.perf_counter() - started:.1f} s into {args.url}")


if __name__ == "__main__":
    asyncio.run(main())
