"""Paged ``OrderedCollection`` documents: outboxes, followers, following, and an association's catalog.

A collection answers with ``totalItems`` and a link to its ``first`` page (``?page=1``); each
``OrderedCollectionPage`` links ``next`` and ``prev``. Member lists are not public (PROTOCOL.md): a Group's
followers collection gives its size only, with no pages, until signed fetches by members' instances are checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.actors import OBJECT_CONTEXT, CatalogItem, catalog_object
from instance.models import Association, Category, Level, Membership, MembershipStatus, Project, User
from instance.settings import Settings

PAGE_SIZE = 50


def collection(collection_id: str, total: int, *, paged: bool = True) -> dict[str, Any]:
    """The collection itself: its size and, when its items are public, its first page."""
    document: dict[str, Any] = {
        "@context": OBJECT_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if paged:
        document["first"] = page_id(collection_id, 1)
        document["last"] = page_id(collection_id, last_page(total))
    return document


def page_id(collection_id: str, number: int) -> str:
    return f"{collection_id}?page={number}"


def last_page(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def page(collection_id: str, number: int, total: int, items: Sequence[Any]) -> dict[str, Any]:
    """Page ``number`` (from 1) of a collection of ``total`` items; ``items`` are the page's items only."""
    document: dict[str, Any] = {
        "@context": OBJECT_CONTEXT,
        "id": page_id(collection_id, number),
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "totalItems": total,
        "orderedItems": list(items),
    }
    if number > 1:
        document["prev"] = page_id(collection_id, number - 1)
    if number < last_page(total):
        document["next"] = page_id(collection_id, number + 1)
    return document


def window(number: int) -> slice:
    """The items of page ``number`` in a full list."""
    return slice((number - 1) * PAGE_SIZE, number * PAGE_SIZE)


Item = TypeVar("Item", Project, Category, Level)


async def _live(db: AsyncSession, model: type[Item], association: Association) -> Sequence[Item]:
    rows = await db.scalars(
        select(model).where(model.association_id == association.id, model.archived.is_(False)).order_by(model.id)
    )
    return rows.all()


async def catalog_items(db: AsyncSession, association: Association) -> list[CatalogItem]:
    """The association's projects, categories and levels that are not archived, in that order, oldest first."""
    items: list[CatalogItem] = []
    items.extend(await _live(db, Project, association))
    items.extend(await _live(db, Category, association))
    items.extend(await _live(db, Level, association))
    return items


async def catalog_page(
    db: AsyncSession, settings: Settings, association: Association, collection_id: str, number: int
) -> dict[str, Any]:
    items = await catalog_items(db, association)
    objects = [catalog_object(settings, association, item) for item in items[window(number)]]
    return page(collection_id, number, len(items), objects)


async def catalog_size(db: AsyncSession, association: Association) -> int:
    total = 0
    for model in (Project, Category, Level):
        count = await db.scalar(
            select(func.count())
            .select_from(model)
            .where(model.association_id == association.id, model.archived.is_(False))
        )
        total += count or 0
    return total


async def member_count(db: AsyncSession, association: Association) -> int:
    """How many active members (accounts that are active and not suspended) the association has."""
    count = await db.scalar(
        select(func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.association_id == association.id,
            Membership.status == MembershipStatus.ACTIVE,
            User.is_active.is_(True),
            User.is_suspended.is_(False),
        )
    )
    return count or 0
