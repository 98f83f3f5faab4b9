"""Helpers of the cross-instance entry tests: alice on a.test is a member of restos on b.test (bob manages it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from federation.time_entries import PARIS
from instance.models import Association, Category, TimeEntry, User
from tests.conftest import post_form
from tests.federation_support import Pair

RESTOS = "https://b.test/associations/restos"
ALICE = "https://a.test/users/alice"
MIRROR = "restos@b.test"


@dataclass
class Members:
    pair: Pair
    alice: httpx.AsyncClient
    bob: httpx.AsyncClient

    async def mirror(self) -> Association:
        [row] = await self.pair.a.rows(Association, Association.actor_uri == RESTOS)
        return row

    async def category(self, side: str = "a", name: str | None = None) -> Category:
        """A category of restos: of the copy on a.test, or of the association itself on b.test."""
        if side == "a":
            association_id = (await self.mirror()).id
        else:
            [association] = await self.pair.b.rows(Association, Association.handle == "restos")
            association_id = association.id
        rows = await (self.pair.a if side == "a" else self.pair.b).rows(
            Category, Category.association_id == association_id
        )
        return next(c for c in sorted(rows, key=lambda c: c.id) if name is None or c.name == name)

    async def log(self, minutes: int = 150, title: str = "Tri des dons", **fields: Any) -> httpx.Response:
        category = await self.category()
        data = {
            "association": MIRROR,
            "start_date": fields.pop("start_date", dt.datetime.now(PARIS).date().isoformat()),
            "duration": "other",
            "hours": str(minutes // 60),
            "minutes": str(minutes % 60),
            "title": title,
            "category": str(category.id),
            **fields,
        }
        return await post_form(self.alice, "/entries/new", data, page="/entries/new")

    async def a_entry(self) -> TimeEntry:
        [entry] = await self.pair.a.rows(TimeEntry)
        return entry

    async def b_entry(self) -> TimeEntry | None:
        rows = await self.pair.b.rows(TimeEntry)
        return rows[0] if rows else None

    async def decide(self, approve: bool, reason: str = "") -> httpx.Response:
        entry = await self.b_entry()
        assert entry is not None
        data = {"approve_only": str(entry.id)} if approve else {"reject_only": str(entry.id), "reason": reason}
        page = "/associations/restos/moderation"
        return await post_form(self.bob, "/associations/restos/moderation/decide", data, page=page)

    async def edit(self, **values: str) -> httpx.Response:
        entry = await self.a_entry()
        category = await self.category()
        data = {
            "association": MIRROR,
            "start_date": entry.start_date.isoformat(),
            "duration": "other",
            "hours": str(entry.duration_minutes // 60),
            "minutes": str(entry.duration_minutes % 60),
            "title": entry.title,
            "category": str(category.id),
            **values,
        }
        path = f"/entries/{entry.id}/edit"
        return await post_form(self.alice, path, data, page=path)

    async def withdraw(self) -> httpx.Response:
        entry = await self.a_entry()
        return await post_form(self.alice, f"/entries/{entry.id}/withdraw", {}, page="/entries")


async def members(pair: Pair, *, moderate_entries: bool = True) -> Members:
    """alice (a.test) joined restos (b.test, open membership), whose manager is bob."""
    alice = await pair.a.person("alice")
    bob = await pair.b.person("bob")
    await pair.b.association("bob", "restos", moderate_entries=moderate_entries)
    found = await post_form(alice, "/follows", {"target": "@restos@b.test"}, page="/follows")
    assert found.status_code == 303
    await post_form(alice, f"/associations/{MIRROR}/join", {}, page=f"/associations/{MIRROR}")
    await pair.settle()
    return Members(pair, alice, bob)


async def person_on_b(pair: Pair) -> User:
    [person] = await pair.b.rows(User, User.actor_uri == ALICE)
    return person


async def select_one(pair: Pair, query: Any) -> Any:
    async with pair.b.instance.sessions() as db:
        return await db.scalar(select(query))
