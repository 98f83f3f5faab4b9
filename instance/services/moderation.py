"""What entry managers do: the queue with its filters, decisions one by one or in bulk, time entered for others.

A decision can be changed later: rejecting an approved entry revokes the approval, approving a rejected one
accepts it after all. Withdrawn entries are out of the managers' hands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import Conflict, NotFound, ValidationError
from instance.events import EntryDecided, publish
from instance.i18n import lazy_gettext
from instance.models import Association, Membership, MembershipStatus, TimeEntry, User, utcnow
from instance.models.entries import EntryDigestPreference, EntryStatus
from instance.services.access import require_permission
from instance.services.entries import add_entry, clean_entry
from instance.services.entry_notices import notify_decisions

PAGE_SIZE = 50
MEMBER_CHOICES = 200  # up to this many members, the queue's member filter is a list; beyond, a name to search
MAX_REASON = 2000  # what a manager writes when rejecting entries (sent to the volunteer, and to their server)


@dataclass
class QueueFilters:
    member: int | None = None  # user id
    project: int | None = None
    category: int | None = None
    status: EntryStatus | None = EntryStatus.PENDING
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    who: str = ""  # part of the volunteer's name (members with an account, or participants without one)

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> QueueFilters:
        """Read filters from a query string; values that make no sense are ignored."""

        def number(name: str) -> int | None:
            text = params.get(name, "")
            return int(text) if text.isdecimal() else None

        def date(name: str) -> dt.date | None:
            try:
                return dt.date.fromisoformat(params.get(name, ""))
            except ValueError:
                return None

        status_text = params.get("status", "pending")
        status = EntryStatus(status_text) if status_text in set(EntryStatus) else None
        who = " ".join(params.get("who", "").split())[:100]
        return cls(number("member"), number("project"), number("category"), status, date("from"), date("to"), who)

    def apply(self, query: Select[Any]) -> Select[Any]:
        conditions = [
            (self.member, TimeEntry.user_id),
            (self.project, TimeEntry.project_id),
            (self.category, TimeEntry.category_id),
            (self.status, TimeEntry.status),
        ]
        for value, column in conditions:
            if value is not None:
                query = query.where(column == value)
        if self.date_from is not None:
            query = query.where(TimeEntry.start_date >= self.date_from)
        if self.date_to is not None:
            query = query.where(TimeEntry.start_date <= self.date_to)
        if self.who:
            named = select(User.id).where(
                User.pseudonym.icontains(self.who, autoescape=True)
                | User.display_name.icontains(self.who, autoescape=True)
                | User.handle.icontains(self.who, autoescape=True)
            )
            query = query.where(
                TimeEntry.user_id.in_(named.scalar_subquery())
                | TimeEntry.participant_name.icontains(self.who, autoescape=True)
            )
        return query


@dataclass
class Page:
    entries: list[TimeEntry]
    total: int
    number: int
    pages: int


async def paginate(db: AsyncSession, query: Select[Any], page: int, size: int = PAGE_SIZE) -> Page:
    total = int(await db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    pages = max(1, -(-total // size))
    number = min(max(1, page), pages)
    rows = await db.scalars(query.offset((number - 1) * size).limit(size))
    return Page(list(rows.all()), total, number, pages)


async def queue(db: AsyncSession, user: User, association: Association, filters: QueueFilters, page: int = 1) -> Page:
    query = await queue_query(db, user, association, filters)
    return await paginate(db, query.order_by(TimeEntry.start_date.desc(), TimeEntry.id.desc()), page)


async def queue_query(db: AsyncSession, user: User, association: Association, filters: QueueFilters) -> Select[Any]:
    """The association's entries that ``filters`` select, unordered; for those who manage entries."""
    await require_permission(db, user, association, "manage_entries")
    return filters.apply(select(TimeEntry).where(TimeEntry.association_id == association.id))


class Member(NamedTuple):
    id: int
    public_name: str


async def members(db: AsyncSession, association: Association) -> list[Member]:
    """Active members, by name (for the member filter and for entering time on someone's behalf)."""
    rows = await db.execute(  # the few columns of the name: thousands of members stay cheap
        select(User.id, User.pseudonym, User.display_name, User.handle)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.association_id == association.id, Membership.status == MembershipStatus.ACTIVE)
    )
    found = [Member(user_id, pseudonym or name or handle) for user_id, pseudonym, name, handle in rows.all()]
    return sorted(found, key=lambda member: member.public_name.casefold())


async def member_choices(db: AsyncSession, association: Association) -> list[Member] | None:
    """The members to list in the queue's filter, or ``None`` when there are too many to list (then the filter
    searches by name)."""
    count = await db.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.association_id == association.id, Membership.status == MembershipStatus.ACTIVE)
    )
    return await members(db, association) if (count or 0) <= MEMBER_CHOICES else None


async def decide(
    db: AsyncSession, user: User, association: Association, entry_ids: Sequence[int], approve: bool, reason: str = ""
) -> list[TimeEntry]:
    """Approve or reject the given entries of this association at once; returns those that changed."""
    manager = await require_permission(db, user, association, "manage_entries")
    reason = reason.strip()
    if not entry_ids:
        raise ValidationError(message=lazy_gettext("Please tick at least one entry."))
    if not approve and not reason:
        raise ValidationError({"reason": lazy_gettext("Please say why, so the volunteer can correct it.")})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": lazy_gettext("Use at most %(n)s characters.", n=MAX_REASON)})
    rows = await db.scalars(
        select(TimeEntry).where(TimeEntry.association_id == association.id, TimeEntry.id.in_(list(entry_ids)))
    )
    target = EntryStatus.APPROVED if approve else EntryStatus.REJECTED
    changed = []
    now = utcnow()
    for entry in rows.all():
        if entry.status in (EntryStatus.WITHDRAWN, target):
            continue
        entry.status = target
        entry.rejection_reason = "" if approve else reason
        entry.decided_at = now
        entry.decided_by_id = manager.user_id
        changed.append(entry)
    await db.flush()
    for entry in changed:
        if entry.ap_id is not None:  # a remote volunteer's entry: their instance is told
            await publish(db, EntryDecided(entry.id))
    await notify_decisions(db, association, changed, approve, reason)
    return changed


async def decide_one(
    db: AsyncSession, user: User, association: Association, entry_id: int, approve: bool, reason: str = ""
) -> TimeEntry:
    """Approve or reject one entry of this association; Conflict when it was withdrawn."""
    await require_permission(db, user, association, "manage_entries")
    entry = await entry_of(db, association, entry_id)
    if entry.status == EntryStatus.WITHDRAWN:
        raise Conflict(lazy_gettext("This entry was withdrawn; it can no longer be changed."))
    await decide(db, user, association, [entry.id], approve, reason)
    return entry


async def enter_for_member(
    db: AsyncSession, base_url: str, user: User, association: Association, values: Mapping[str, str]
) -> TimeEntry:
    """A manager logs time for a member or for a participant without an account (by name).

    The manager decides on entries, so what they enter is approved at once.
    """
    manager = await require_permission(db, user, association, "manage_entries")
    errors: dict[str, object] = {}
    member_id: int | None = None
    participant = " ".join(values.get("participant_name", "").split())
    member_text = values.get("member", "").strip()
    if member_text:
        ids = {m.id for m in await members(db, association)}
        member_id = int(member_text) if member_text.isdecimal() else None
        if member_id not in ids:
            errors["member"] = lazy_gettext("Please pick a member of this association.")
        participant = ""
    elif not participant:
        errors["member"] = lazy_gettext("Please pick a member, or give the name of a participant without an account.")
    elif len(participant) > 150:
        errors["participant_name"] = lazy_gettext("The name can have at most 150 characters.")
    try:
        data = await clean_entry(db, association, values)
    except ValidationError as error:
        raise ValidationError({**errors, **error.fields}) from error
    if errors:
        raise ValidationError(errors)
    return await add_entry(
        db,
        association,
        data,
        base_url,
        EntryStatus.APPROVED,
        user_id=member_id,
        participant_name=participant,
        entered_by_id=manager.user_id,
        decided_by_id=manager.user_id,
    )


async def entry_of(db: AsyncSession, association: Association, entry_id: int) -> TimeEntry:
    entry = await db.get(TimeEntry, entry_id)
    if entry is None or entry.association_id != association.id:
        raise NotFound(lazy_gettext("This entry does not exist."))
    return entry


async def wants_digest(db: AsyncSession, user: User, association: Association) -> bool:
    found = await db.scalar(
        select(EntryDigestPreference.id).where(
            EntryDigestPreference.user_id == user.id, EntryDigestPreference.association_id == association.id
        )
    )
    return found is not None


async def set_digest(db: AsyncSession, user: User, association: Association, digest: bool) -> None:
    """Choose between a mail per pending entry (default) and one daily digest."""
    await require_permission(db, user, association, "manage_entries")
    current = await db.scalar(
        select(EntryDigestPreference).where(
            EntryDigestPreference.user_id == user.id, EntryDigestPreference.association_id == association.id
        )
    )
    if digest and current is None:
        db.add(EntryDigestPreference(user_id=user.id, association_id=association.id))
    elif not digest and current is not None:
        await db.delete(current)
    await db.flush()
