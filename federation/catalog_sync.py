"""The copy of a remote association's catalog kept on a volunteer's instance, for its time-entry form.

The catalog (an ``OrderedCollection`` of ``Project``, ``Category`` and ``Level`` objects, PROTOCOL.md "The
catalog") is fetched with a signed GET when a volunteer joins, when the association sends an ``Update`` of its
actor, and when the copy is older than :data:`MAX_AGE` as the form opens. Items are matched by their id; an item
that left the catalog is archived here (entries that use it keep it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.client import FederationClient, FetchError
from federation.jsonld import as_list, id_of
from federation.local_keys import instance_owner
from federation.policy import domain_of
from federation.remote import RemoteError
from instance import reference
from instance.models import Association, Category, Level, Project, utcnow

CatalogItem = Project | Category | Level
MAX_AGE = dt.timedelta(hours=6)
MAX_PAGES = 20
MODELS: dict[str, type[Project] | type[Category] | type[Level]] = {
    "Project": Project,
    "Category": Category,
    "Level": Level,
}


def is_stale(association: Association) -> bool:
    fetched = association.catalog_fetched_at
    return fetched is None or fetched < utcnow() - MAX_AGE


async def _items(client: FederationClient, url: str) -> list[dict[str, Any]]:
    """Every object of the collection at ``url`` (its pages followed, on the collection's host only)."""
    signer = await client.signing_keys(instance_owner(client.settings))
    host = domain_of(url)
    document = await client.fetch(url, signer)
    found: list[dict[str, Any]] = [item for item in as_list(document.get("orderedItems")) if isinstance(item, dict)]
    next_url = id_of(document.get("first"))
    for _ in range(MAX_PAGES):
        if not next_url or domain_of(next_url) != host:
            break
        page = await client.fetch(next_url, signer)
        found.extend(item for item in as_list(page.get("orderedItems")) if isinstance(item, dict))
        next_url = id_of(page.get("next"))
    return found


def _text(value: Any, limit: int) -> str:
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


async def refresh(db: AsyncSession, client: FederationClient, association: Association, catalog_url: str) -> int:
    """Fetch the catalog of the mirrored ``association`` and bring the local copy in line; the number of live
    items. ``RemoteError`` when it cannot be read (the old copy stays)."""
    if not catalog_url or domain_of(catalog_url) != domain_of(association.actor_uri or ""):
        raise RemoteError("the association publishes no catalog on its host")
    try:
        objects = await _items(client, catalog_url)
    except FetchError as error:
        raise RemoteError(error.reason) from error
    codes = {common.code for common in reference.common_categories()}
    host = domain_of(catalog_url)
    seen: set[str] = set()
    for document in objects:
        item_id, kind = id_of(document), document.get("type")
        if not item_id or domain_of(item_id) != host or not isinstance(kind, str) or kind not in MODELS:
            continue
        seen.add(item_id)
        model = MODELS[kind]
        row = cast(CatalogItem | None, await db.scalar(select(model).where(model.ap_id == item_id)))
        if row is None or row.association_id != association.id:
            if row is not None:  # an id of another association: not ours to take
                continue
            row = model(association_id=association.id, ap_id=item_id)
            if isinstance(row, Level):
                row.hourly_rate = Decimal("0")  # the association values its time on its own instance
            db.add(row)
        row.name = _text(document.get("name"), 255) or item_id.rsplit("/", 1)[-1]
        summary = document.get("summary")
        row.description = summary[:5000] if isinstance(summary, str) else ""
        row.archived = False
        if isinstance(row, Category):
            common = document.get("commonCategory")
            row.common_category = common if isinstance(common, str) and common in codes else "other"
    for model in MODELS.values():
        live = await db.scalars(select(model).where(model.association_id == association.id, model.archived.is_(False)))
        for item in cast(Sequence[CatalogItem], live.all()):
            if item.ap_id not in seen:
                item.archived = True
    association.catalog_fetched_at = utcnow()
    await db.flush()
    return len(seen)
