"""What the API tests share: a small world of people, an association and entries, and tokens (no tests here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import Association, Category, TimeEntry, User
from instance.runtime import Instance
from instance.services import tokens
from instance.services.entries import today
from tests.conftest import make_client
from tests.test_entries_support import association, join, person


async def make_token(
    instance: Instance, user: User, scope: str = "write", association: str = "", name: str = "test"
) -> str:
    async with instance.sessions() as db:
        row = await db.get(User, user.id)
        assert row is not None
        made = await tokens.create_token(db, row, name=name, scope=scope, association=association)
        await db.commit()
        return made.secret


def api(app: Starlette, token: str | None = None) -> httpx.AsyncClient:
    """A script's HTTP client: no cookies, the token in the Authorization header, answers in English."""
    client = make_client(app)
    client.headers["Accept-Language"] = "en"
    if token:
        client.headers["Authorization"] = f"Bearer {token}"
    return client


@dataclass
class World:
    """alice manages "restos" (moderated entries); bob is a member; carol belongs to nothing."""

    alice: User
    bob: User
    carol: User
    restos: Association
    categories: list[int]
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, app: Starlette, who: str) -> httpx.AsyncClient:
        return api(app, self.tokens[who])


async def world(app: Starlette) -> World:
    instance: Instance = app.state.instance
    alice, bob, carol = [await person(instance, name) for name in ("alice", "bob", "carol")]
    restos = await association(instance, alice, "restos")
    await join(instance, restos, bob)
    async with instance.sessions() as db:
        categories = list(
            await db.scalars(select(Category.id).where(Category.association_id == restos.id).order_by(Category.id))
        )
    found = World(alice, bob, carol, restos, categories)
    for user in (alice, bob, carol):
        found.tokens[user.handle] = await make_token(instance, user)
        found.tokens[f"{user.handle}-read"] = await make_token(instance, user, "read")
    return found


async def add_entries(
    instance: Instance, w: World, user: User, count: int, status: str = "pending", **fields: Any
) -> list[int]:
    """``count`` entries of ``user`` in restos, on different days (newest first when listed)."""
    ids = []
    async with instance.sessions() as db:
        for number in range(count):
            entry = TimeEntry(
                association_id=w.restos.id,
                user_id=user.id,
                category_id=w.categories[0],
                start_date=today() - dt.timedelta(days=number % 40),
                duration_minutes=60 + number,
                title=f"Entry {number}",
                status=status,
                **fields,
            )
            db.add(entry)
            await db.flush()
            ids.append(entry.id)
        await db.commit()
    return ids


async def walk(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list, following next_cursor; checks that no item comes twice."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    keys = [item.get("id", item.get("handle")) for item in items]
    assert len(keys) == len(set(keys)), "an item came twice"
    return items


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    error: dict[str, Any] = body["error"]
    return error
