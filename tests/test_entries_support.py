"""Helpers shared by the catalog, entry and anonymous-link tests (this module holds no tests itself)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
from sqlalchemy import select

from instance.models import Association, Category, Membership, MembershipStatus, Role, TimeEntry, User
from instance.runtime import Instance
from instance.services.associations import create_association
from instance.services.entries import today
from tests.conftest import create_user, log_in

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


async def post(client: httpx.AsyncClient, path: str, data: dict[str, Any]) -> httpx.Response:
    """Submit a form with the session's CSRF token (read from a page, like a browser that showed it).

    A list value sends the field several times (ticked checkboxes)."""
    page = await client.get("/")
    match = CSRF_RE.search(page.text)
    assert match, page.text
    return await client.post(path, data={**data, "csrf_token": match.group(1)})


async def person(instance: Instance, handle: str, client: httpx.AsyncClient | None = None) -> User:
    user = await create_user(instance, f"{handle}@example.org", handle, display_name=handle.capitalize())
    async with instance.sessions() as db:  # pages and mails in English, whatever the catalogs hold
        row = await db.get(User, user.id)
        assert row is not None
        row.language = "en"
        await db.commit()
        user.language = "en"
    if client is not None:
        client.headers["Accept-Language"] = "en"
        await log_in(client, f"{handle}@example.org")
    return user


async def association(
    instance: Instance, owner: User, handle: str = "restos", *, moderate_entries: bool = True, **options: Any
) -> Association:
    async with instance.sessions() as db:
        owner_row = await db.get(User, owner.id)
        assert owner_row is not None
        created = await create_association(
            db,
            instance.settings,
            owner_row,
            handle=handle,
            name=handle.capitalize(),
            moderate_entries=moderate_entries,
            approved=True,
            **options,
        )
        await db.commit()
        return created


async def join(instance: Instance, association: Association, user: User, *, manager: bool = False) -> None:
    """Make ``user`` an active member with the default role (or the role that manages entries)."""
    async with instance.sessions() as db:
        roles = (await db.scalars(select(Role).where(Role.association_id == association.id))).all()
        if manager:
            role = next(r for r in roles if r.manage_entries and not r.manage_association)
        else:
            role = next(r for r in roles if r.is_default)
        db.add(
            Membership(association_id=association.id, user_id=user.id, role_id=role.id, status=MembershipStatus.ACTIVE)
        )
        await db.commit()


async def category_ids(instance: Instance, association: Association) -> list[int]:
    async with instance.sessions() as db:
        rows = await db.scalars(
            select(Category.id).where(Category.association_id == association.id).order_by(Category.id)
        )
        return list(rows.all())


async def entries_of(instance: Instance, association: Association) -> list[TimeEntry]:
    async with instance.sessions() as db:
        rows = await db.scalars(
            select(TimeEntry).where(TimeEntry.association_id == association.id).order_by(TimeEntry.id)
        )
        return list(rows.all())


def entry_form(category: int, **overrides: str) -> dict[str, str]:
    values = {
        "start_date": today().isoformat(),
        "duration": "120",
        "title": "Tri des dons",
        "category": str(category),
        "distance": "",
        "description": "",
    }
    values.update(overrides)
    return values


def days_ago(days: int) -> str:
    return (today() - dt.timedelta(days=days)).isoformat()
