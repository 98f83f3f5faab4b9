"""The main pages send a fixed number of SQL queries, whatever the size of the data (no N+1).

Each test counts the statements the engine sends (``before_cursor_execute``) for one page, with a small
data set and then the same data set grown tenfold: more members, entries, pending entries, associations
and memberships of the viewer. The count must not move, and stays under the page's budget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from starlette.applications import Starlette

from instance.models import (
    Association,
    Category,
    EntryStatus,
    Level,
    Membership,
    MembershipStatus,
    Project,
    Role,
    TimeEntry,
    User,
)
from instance.runtime import Instance
from instance.services.associations import create_association
from tests.test_reports_support import as_user, quick_user

SMALL, LARGE = 5, 50
YEAR = dt.date.today().year


@dataclass
class World:
    """One association managed by Alice, grown by ``grow``; Alice is also a volunteer of other ones."""

    instance: Instance
    alice: User
    association: Association
    categories: list[int] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    projects: list[int] = field(default_factory=list)
    size: int = 0


async def make_world(instance: Instance) -> World:
    alice = await quick_user(instance, "alice@example.org", "alice", "Alice Martin")
    async with instance.sessions() as db:
        association = await create_association(
            db, instance.settings, alice, handle="jardins", name="Les Jardins", approved=True
        )
        levels = [
            Level(association_id=association.id, name="Animateur", hourly_rate=Decimal("15.00")),
            Level(association_id=association.id, name="Expert", hourly_rate=Decimal("20.50")),
        ]
        projects = [Project(association_id=association.id, name=f"Projet {n}") for n in range(3)]
        db.add_all([*levels, *projects])
        await db.flush()
        categories = (await db.scalars(select(Category.id).where(Category.association_id == association.id))).all()
        world = World(instance, alice, association, list(categories), [x.id for x in levels], [p.id for p in projects])
        await db.commit()
    return world


async def grow(world: World, size: int) -> None:
    """Bring the world to ``size`` members (each with an approved and a pending entry), ``size`` entries of
    Alice, and ``size`` other associations where Alice volunteers (an hour in each)."""
    instance = world.instance
    new = range(world.size, size)
    people = [await quick_user(instance, f"v{n}@example.org", f"v{n}", f"Volunteer {n}") for n in new]
    async with instance.sessions() as db:
        role = await db.scalar(select(Role).where(Role.association_id == world.association.id, Role.is_default))
        assert role is not None
        for number, person in zip(new, people, strict=True):
            db.add(
                Membership(
                    association_id=world.association.id,
                    user_id=person.id,
                    role_id=role.id,
                    status=MembershipStatus.ACTIVE,
                )
            )
            for status in (EntryStatus.APPROVED, EntryStatus.PENDING):
                db.add(entry(world, number, person.id, status))
            db.add(entry(world, number, world.alice.id, EntryStatus.APPROVED))
        db.add(entry(world, 0, None, EntryStatus.PENDING, participant_name=f"Anonyme {size}"))
        alice = await db.get(User, world.alice.id)
        assert alice is not None
        for number, person in zip(new, people, strict=True):
            owner = await db.get(User, person.id)
            assert owner is not None
            other = await create_association(
                db, instance.settings, owner, handle=f"asso{number}", name=f"Association {number}", approved=True
            )
            volunteer = await db.scalar(select(Role).where(Role.association_id == other.id, Role.is_default))
            assert volunteer is not None
            db.add(
                Membership(
                    association_id=other.id, user_id=alice.id, role_id=volunteer.id, status=MembershipStatus.ACTIVE
                )
            )
            category = await db.scalar(select(Category.id).where(Category.association_id == other.id).limit(1))
            assert category is not None
            db.add(
                TimeEntry(
                    association_id=other.id,
                    user_id=alice.id,
                    category_id=category,
                    start_date=dt.date(YEAR, 1, 1),
                    duration_minutes=60,
                    title="Elsewhere",
                    status=EntryStatus.APPROVED,
                )
            )
        await db.commit()
    world.size = size


def entry(world: World, number: int, user_id: int | None, status: EntryStatus, **values: Any) -> TimeEntry:
    return TimeEntry(
        association_id=world.association.id,
        user_id=user_id,
        category_id=world.categories[number % len(world.categories)],
        level_id=world.levels[number % len(world.levels)] if number % 3 else None,
        project_id=world.projects[number % len(world.projects)] if number % 4 else None,
        start_date=dt.date(YEAR, 1 + number % 12, 1 + number % 28),
        duration_minutes=30 + number,
        distance_km=Decimal(number % 7),
        title=f"Action {number}",
        status=status,
        **values,
    )


@contextmanager
def counting(instance: Instance) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = instance.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def queries(browser: httpx.AsyncClient, instance: Instance, path: str) -> list[str]:
    """Statements sent to show ``path`` once (after a first request that fills whatever is cached)."""
    assert (await browser.get(path)).status_code == 200
    with counting(instance) as statements:
        response = await browser.get(path)
    assert response.status_code == 200, response.text[:300]
    return [" ".join(statement.split())[:160] for statement in statements]


# page: (path, most queries allowed: the count measured when written, plus a few for changes to come)
PAGES = {
    "dashboard": ("/dashboard", 8),
    "entry form": ("/entries/new", 14),
    "my entries": ("/entries", 14),
    "statistics": (f"/associations/jardins/statistics?year={YEAR}", 15),
    "valuation": (f"/associations/jardins/valuation?year={YEAR}", 10),
    "moderation queue": ("/associations/jardins/moderation", 20),
    "members": ("/associations/jardins/members", 11),
    "directory": ("/associations", 8),
}


@pytest.mark.parametrize("page", list(PAGES))
async def test_page_queries_do_not_grow_with_the_data(app: Starlette, instance: Instance, page: str) -> None:
    path, budget = PAGES[page]
    world = await make_world(instance)
    browser = await as_user(app, instance, world.alice)
    async with browser:
        await grow(world, SMALL)
        small = await queries(browser, instance, path)
        await grow(world, LARGE)
        large = await queries(browser, instance, path)
    listing = "\n".join(large)
    assert len(large) == len(small), f"{page}: {len(small)} queries with {SMALL}, {len(large)} with {LARGE}:\n{listing}"
    assert len(small) <= budget, f"{page}: {len(small)} queries, budget {budget}:\n{listing}"


async def test_the_grown_data_shows_on_the_pages(app: Starlette, instance: Instance) -> None:
    """The pages counted above do show the grown data (a count over an empty page would prove nothing)."""
    world = await make_world(instance)
    await grow(world, LARGE)
    async with await as_user(app, instance, world.alice) as browser:
        members = (await browser.get("/associations/jardins/members")).text
        queue = (await browser.get("/associations/jardins/moderation")).text
        directory = (await browser.get("/associations", params={"q": "Association 49"})).text
        dashboard = (await browser.get("/dashboard")).text
    assert "Volunteer 49" in members
    assert "Action 49" in queue and f"Anonyme {LARGE}" in queue
    assert "Association 49" in directory
    assert "Association 49" in dashboard
