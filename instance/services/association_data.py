"""An association's data as one ZIP archive, for its managers: profile, roles, members, catalog, entries.

Entries come as ``entries.csv`` (the export of every entry, whatever its status) and ``entries.json``;
both are streamed in keyset batches, each read in a short session of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instance import i18n
from instance.models import Association, Category, Level, Role, TimeEntry, User
from instance.services import export_writers, exports
from instance.services.access import require_permission
from instance.services.catalog import KINDS, list_items
from instance.services.membership import members_of
from instance.services.report_filters import EntryFilter
from instance.services.zipstream import Member, dumps, json_array, one, zip_chunks

BATCH = 500


async def check_access(db: AsyncSession, user: User | None, association: Association) -> None:
    """The archive is for those who manage the association."""
    await require_permission(db, user, association, "manage_association")


def _profile(association: Association) -> dict[str, Any]:
    names = [
        "handle",
        "name",
        "description",
        "website",
        "activity_fields",
        "country",
        "postal_code",
        "has_employees",
        "yearly_income",
        "hidden",
        "moderate_membership",
        "moderate_entries",
        "hourly_rate",
        "status",
        "created_at",
    ]
    return {name: getattr(association, name) for name in names}


async def _roles(db: AsyncSession, association: Association) -> list[dict[str, Any]]:
    rows = await db.scalars(select(Role).where(Role.association_id == association.id).order_by(Role.id))
    flags = ("list_members", "manage_members", "manage_entries", "manage_categories", "manage_levels")
    more = ("manage_projects", "manage_roles", "manage_association")
    return [
        {"name": r.name, "description": r.description, "is_default": r.is_default}
        | {flag: getattr(r, flag) for flag in (*flags, *more)}
        for r in rows
    ]


async def _members(db: AsyncSession, association: Association) -> list[dict[str, Any]]:
    return [
        {
            "handle": m.user.handle,
            "name": m.user.display_name,
            "pseudonym": m.user.pseudonym,
            "role": m.role.name,
            "status": str(m.status),
            "created_at": m.created_at,
            "decided_at": m.decided_at,
        }
        for m in await members_of(db, association)
    ]


async def catalog(db: AsyncSession, association: Association) -> dict[str, list[dict[str, Any]]]:
    """Every category, level and project, archived ones included."""
    result: dict[str, list[dict[str, Any]]] = {}
    for name, kind in KINDS.items():
        items = []
        for item in await list_items(db, association, kind):
            found: dict[str, Any] = {"id": item.id, "name": item.name, "description": item.description}
            found["archived"] = item.archived
            if isinstance(item, Category):
                found["common_category"] = item.common_category
            if isinstance(item, Level):
                found["hourly_rate"] = item.hourly_rate
            items.append(found)
        result[name] = items
    return result


async def entry_batches(
    sessions: async_sessionmaker[AsyncSession], association_id: int
) -> AsyncIterator[list[dict[str, Any]]]:
    after = 0
    while True:
        async with sessions() as db:
            rows = list(
                (
                    await db.execute(
                        select(TimeEntry, User.handle)
                        .outerjoin(User, User.id == TimeEntry.user_id)
                        .where(TimeEntry.association_id == association_id, TimeEntry.id > after)
                        .order_by(TimeEntry.id)
                        .limit(BATCH)
                    )
                ).all()
            )
        if not rows:
            return
        yield [_entry(entry, handle) for entry, handle in rows]
        after = rows[-1][0].id


def _entry(entry: TimeEntry, handle: str | None) -> dict[str, Any]:
    names = [
        "id",
        "start_date",
        "end_date",
        "duration_minutes",
        "distance_km",
        "title",
        "description",
        "status",
        "category_id",
        "level_id",
        "project_id",
        "participant_name",
        "rejection_reason",
        "created_at",
        "updated_at",
        "decided_at",
    ]
    return {"member": handle, **{name: getattr(entry, name) for name in names}}


async def _parts(
    sessions: async_sessionmaker[AsyncSession], association_id: int, language: str, default_rate: Decimal
) -> AsyncIterator[Member]:
    async with sessions() as db:
        association = await db.get(Association, association_id)
        if association is None:
            return
        profile = _profile(association)
        roles = await _roles(db, association)
        members = await _members(db, association)
        items = await catalog(db, association)
    yield "association.json", one(dumps(profile))
    yield "roles.json", one(dumps(roles))
    yield "members.json", one(dumps(members))
    yield "catalog.json", one(dumps(items))
    yield "entries.json", json_array(entry_batches(sessions, association_id))
    with i18n.language(language):
        labels = exports.Labels.current()
    scope = exports.ExportScope(EntryFilter(statuses=frozenset()), association_id, default_rate)
    batches = exports.entry_batches(sessions, scope, labels)
    yield "entries.csv", export_writers.csv_chunks(batches, labels.header, french=language == "fr")


def archive(
    sessions: async_sessionmaker[AsyncSession], association: Association, language: str, default_rate: Decimal
) -> AsyncIterator[bytes]:
    """The association's archive as chunks of a ZIP file (check access with ``check_access`` first)."""
    return zip_chunks(_parts(sessions, association.id, language, default_rate))
