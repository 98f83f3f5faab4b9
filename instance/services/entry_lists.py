"""Lists of entries as pages show them: the volunteer's own list, and the names each row needs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import (
    Association,
    Category,
    Level,
    Membership,
    MembershipStatus,
    Project,
    TimeEntry,
    User,
)
from instance.models.entries import EntryStatus
from instance.services.moderation import Page, paginate


@dataclass
class OwnFilters:
    association: str = ""  # handle
    status: EntryStatus | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> OwnFilters:
        def date(name: str) -> dt.date | None:
            try:
                return dt.date.fromisoformat(params.get(name, ""))
            except ValueError:
                return None

        status = params.get("status", "")
        return cls(
            params.get("association", "").strip().lower(),
            EntryStatus(status) if status in set(EntryStatus) else None,
            date("from"),
            date("to"),
        )


async def own_entries(db: AsyncSession, user: User, filters: OwnFilters, page: int = 1) -> Page:
    query = own_entries_query(user, filters).order_by(TimeEntry.start_date.desc(), TimeEntry.id.desc())
    return await paginate(db, query, page)


def own_entries_query(user: User, filters: OwnFilters) -> Select[Any]:
    """The person's entries that ``filters`` select, unordered (pages and the API order them)."""
    query = select(TimeEntry).where(TimeEntry.user_id == user.id)
    if filters.association:
        query = query.join(Association, Association.id == TimeEntry.association_id).where(
            Association.handle == filters.association
        )
    if filters.status is not None:
        query = query.where(TimeEntry.status == filters.status)
    if filters.date_from is not None:
        query = query.where(TimeEntry.start_date >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(TimeEntry.start_date <= filters.date_to)
    return query


async def member_associations(db: AsyncSession, user: User) -> list[Association]:
    """The associations the person is an active member of, by name."""
    rows = await db.scalars(
        select(Association)
        .join(Membership, Membership.association_id == Association.id)
        .where(Membership.user_id == user.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(Association.name)
    )
    return list(rows.all())


@dataclass
class Labels:
    """Names of what the entries of a page point at, looked up once for the whole page."""

    associations: dict[int, Association] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)
    levels: dict[int, str] = field(default_factory=dict)
    projects: dict[int, str] = field(default_factory=dict)
    people: dict[int, str] = field(default_factory=dict)

    def person(self, entry: TimeEntry) -> str:
        if entry.user_id is not None and entry.user_id in self.people:
            return self.people[entry.user_id]
        return entry.participant_name


async def labels_for(db: AsyncSession, entries: Sequence[TimeEntry]) -> Labels:
    labels = Labels()

    def ids(attribute: str) -> set[int]:
        return {value for e in entries if (value := getattr(e, attribute)) is not None}

    if not entries:
        return labels
    for association in (await db.scalars(select(Association).where(Association.id.in_(ids("association_id"))))).all():
        labels.associations[association.id] = association
    for model, target in ((Category, labels.categories), (Level, labels.levels), (Project, labels.projects)):
        column = {Category: "category_id", Level: "level_id", Project: "project_id"}[model]
        rows = await db.execute(select(model.id, model.name).where(model.id.in_(ids(column))))
        target.update({int(item_id): str(name) for item_id, name in rows.all()})
    people = await db.scalars(select(User).where(User.id.in_(ids("user_id") | ids("entered_by_id"))))
    labels.people.update({person.id: person.public_name for person in people.all()})
    return labels
