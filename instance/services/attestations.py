"""Attestation de bénévolat: what a volunteer gave to one association over a period.

There is no official template; ours names the association, its managers and the volunteer, lists the
approved entries (date, activity, duration) with the totals, and leaves room for the signature of the
association's legal representative. ``attestation_pdf`` renders it with fpdf2 and an embedded DejaVu font.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import NotFound
from instance.i18n import lazy_gettext
from instance.models import (
    Association,
    Category,
    EntryStatus,
    Membership,
    MembershipStatus,
    Project,
    Role,
    TimeEntry,
    User,
)
from instance.services.report_filters import Period

MAX_ENTRIES = 5000  # an attestation lists at most this many entries (the totals always count them all)


@dataclass
class AttestedEntry:
    start_date: dt.date
    end_date: dt.date | None
    title: str
    category: str
    project: str
    minutes: int
    distance_km: float


@dataclass
class Attestation:
    association: Association
    volunteer: User
    managers: list[User]
    period: Period
    issued_on: dt.date
    entries: list[AttestedEntry] = field(default_factory=list)
    minutes: int = 0
    count: int = 0

    @property
    def manager_names(self) -> str:
        return ", ".join(m.display_name or m.public_name for m in self.managers)

    @property
    def truncated(self) -> bool:
        return self.count > len(self.entries)


async def _association_for(db: AsyncSession, user: User, handle: str) -> Association:
    """The association, if the person is or was involved in it (a member, or entries of theirs)."""
    association = await db.scalar(select(Association).where(Association.handle == handle.strip().lower()))
    if association is not None:
        member = exists().where(Membership.association_id == association.id, Membership.user_id == user.id)
        logged = exists().where(TimeEntry.association_id == association.id, TimeEntry.user_id == user.id)
        if await db.scalar(select(member | logged)):
            return association
    raise NotFound(lazy_gettext("You have no time logged in this association."))


async def managers_of(db: AsyncSession, association: Association) -> list[User]:
    """Active members whose role manages the association."""
    query = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(Role, Role.id == Membership.role_id)
        .where(
            Membership.association_id == association.id,
            Membership.status == MembershipStatus.ACTIVE,
            Role.manage_association.is_(True),
        )
        .order_by(User.display_name, User.id)
    )
    return list(await db.scalars(query))


async def build_attestation(db: AsyncSession, user: User, handle: str, period: Period, today: dt.date) -> Attestation:
    association = await _association_for(db, user, handle)
    attestation = Attestation(association, user, await managers_of(db, association), period, today)
    query = (
        select(
            TimeEntry.start_date,
            TimeEntry.end_date,
            TimeEntry.title,
            Category.name,
            Project.name,
            TimeEntry.duration_minutes,
            TimeEntry.distance_km,
        )
        .join(Category, Category.id == TimeEntry.category_id)
        .outerjoin(Project, Project.id == TimeEntry.project_id)
        .where(
            TimeEntry.association_id == association.id,
            TimeEntry.user_id == user.id,
            TimeEntry.status == EntryStatus.APPROVED,
            TimeEntry.start_date.between(period.start, period.end),
        )
        .order_by(TimeEntry.start_date, TimeEntry.id)
    )
    result = await db.stream(query)
    async for start, end, title, category, project, minutes, distance in result:
        attestation.count += 1
        attestation.minutes += int(minutes)
        if len(attestation.entries) < MAX_ENTRIES:
            attestation.entries.append(
                AttestedEntry(start, end, title, category, project or "", int(minutes), float(distance or 0))
            )
    return attestation
