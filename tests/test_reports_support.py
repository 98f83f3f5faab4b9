"""Helpers shared by the report and export tests (this module holds no tests itself).

``make_seed`` builds a small data set whose figures the tests work out by hand. Logging in is not the
subject of these tests: ``sign_in`` gives a client the session cookie the login page would set (the same
signed cookie, checked by the real middleware).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from base64 import b64encode
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import itsdangerous
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import (
    Association,
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
from instance.runtime import Instance
from instance.services.associations import create_association
from tests.conftest import make_client
from web.app import SESSION_COOKIE
from web.auth import session_fingerprint


async def sign_in(client: httpx.AsyncClient, instance: Instance, user: User) -> httpx.AsyncClient:
    async with instance.sessions() as db:
        fresh = await db.get(User, user.id)
        assert fresh is not None
        data = {"uid": fresh.id, "auth": session_fingerprint(instance, fresh)}
    signer = itsdangerous.TimestampSigner(instance.settings.secret_key)
    client.cookies.set(SESSION_COOKIE, signer.sign(b64encode(json.dumps(data).encode())).decode(), domain="a.test")
    return client


async def quick_user(
    instance: Instance, email: str, handle: str, display_name: str = "", *, admin: bool = False
) -> User:
    """An active account without a password (these tests sign in with ``sign_in``; hashing is slow)."""
    async with instance.sessions() as db:
        db.add(Handle(handle=handle, kind="user"))
        user = User(
            email=email,
            handle=handle,
            display_name=display_name,
            password_hash="!",
            is_active=True,
            is_admin=admin,
        )
        db.add(user)
        await db.commit()
        return user


@dataclass
class Seed:
    association: Association
    alice: User  # the manager (created the association)
    bob: User
    carol: User
    dave: User  # not a member
    erin: User  # member with the default role (no permission)
    animateur: Level
    expert: Level
    fete: Project
    jardin: Project
    categories: dict[str, Category]


async def add_member(db: AsyncSession, association: Association, user: User, role_name: str) -> None:
    role = await db.scalar(select(Role).where(Role.association_id == association.id, Role.name == role_name))
    assert role is not None
    db.add(Membership(association_id=association.id, user_id=user.id, role_id=role.id, status=MembershipStatus.ACTIVE))


def entry(seed_association: Association, category: Category, day: str, minutes: int, **values: object) -> TimeEntry:
    return TimeEntry(
        association_id=seed_association.id,
        category_id=category.id,
        start_date=dt.date.fromisoformat(day),
        duration_minutes=minutes,
        title=values.pop("title", f"Action du {day}"),
        status=values.pop("status", EntryStatus.APPROVED),
        **values,
    )


async def make_seed(instance: Instance) -> Seed:
    alice = await quick_user(instance, "alice@example.org", "alice", "Alice Martin")
    bob = await quick_user(instance, "bob@example.org", "bob", "Bob Durand")
    carol = await quick_user(instance, "carol@example.org", "carol", "Carole Petit")
    dave = await quick_user(instance, "dave@example.org", "dave", "Dave Outsider")
    erin = await quick_user(instance, "erin@example.org", "erin", "Erin Member")
    async with instance.sessions() as db:
        association = await create_association(
            db, instance.settings, alice, handle="jardins", name="Les Jardins Partagés", approved=True
        )
        for user in (bob, carol, erin):
            await add_member(db, association, user, "Bénévole")
        animateur = Level(association_id=association.id, name="Animateur", hourly_rate=Decimal("15.00"))
        expert = Level(association_id=association.id, name="Expert", hourly_rate=Decimal("20.50"))
        fete = Project(association_id=association.id, name="Fête de quartier")
        jardin = Project(association_id=association.id, name="Jardin")
        db.add_all([animateur, expert, fete, jardin])
        await db.flush()
        found = await db.scalars(select(Category).where(Category.association_id == association.id))
        categories = {c.common_category: c for c in found}
        gov, events, other, maint = (categories[c] for c in ("governance", "events", "other", "maintenance"))
        db.add_all(
            [
                # 1: bob, January, 1 h 30, Animateur, Fête, governance, 12.5 km
                entry(association, gov, "2025-01-10", 90, user_id=bob.id, level_id=animateur.id,
                      project_id=fete.id, distance_km=Decimal("12.5"), title="Assemblée générale"),
                # 2: bob, March, 45 min, no level, Jardin, events
                entry(association, events, "2025-03-05", 45, user_id=bob.id, project_id=jardin.id),
                # 3: carol, March, 2 h, Expert, Fête, governance, 3 km
                entry(association, gov, "2025-03-20", 120, user_id=carol.id, level_id=expert.id,
                      project_id=fete.id, distance_km=Decimal("3")),
                # 4: carol, March, 30 min, no level, pending
                entry(association, events, "2025-03-21", 30, user_id=carol.id, status=EntryStatus.PENDING),
                # 5: alice, July, 3 h 20, Expert, rejected
                entry(association, maint, "2025-07-14", 200, user_id=alice.id, level_id=expert.id,
                      status=EntryStatus.REJECTED),
                # 6: bob, the year before
                entry(association, events, "2024-12-31", 60, user_id=bob.id),
                # 7: Zoé, without an account (anonymous link), May, 47 min, no level, other
                entry(association, other, "2025-05-01", 47, participant_name="Zoé Anonyme"),
            ]
        )  # fmt: skip
        await db.commit()
    return Seed(association, alice, bob, carol, dave, erin, animateur, expert, fete, jardin, categories)


async def as_user(app: Any, instance: Instance, user: User, language: str = "en") -> httpx.AsyncClient:
    """A browser signed in as ``user`` that asks for pages in ``language`` (English: the msgids)."""
    client = make_client(app)
    client.headers["Accept-Language"] = language
    return await sign_in(client, instance, user)


def cells(html: str, caption: str) -> list[list[str]]:
    """The rows of the table with this caption, as lists of cell texts."""
    match = re.search(r"<caption>" + re.escape(caption) + r"</caption>(.*?)</table>", html, re.S)
    assert match, f"no table {caption!r}"
    body = match.group(1).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)])
    return rows
