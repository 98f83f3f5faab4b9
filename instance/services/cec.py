"""The Compte d'engagement citoyen (CEC): where a volunteer stands in a calendar year.

Volunteers who sit on an association's governing body or supervise other volunteers earn training rights
for a calendar year in which they give at least 200 hours, of which at least 100 in one association. They
declare them on the state's "Le Compte Bénévole" service between 1 January and 30 June of the following
year; the association's designated validator then confirms. Only approved entries count here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import Association, EntryStatus, TimeEntry, User

TOTAL_MINUTES = 200 * 60
ONE_ASSOCIATION_MINUTES = 100 * 60


@dataclass
class CecLine:
    association: Association
    entries: int
    minutes: int
    pending_minutes: int
    first_date: dt.date | None
    last_date: dt.date | None

    @property
    def meets_one_association(self) -> bool:
        return self.minutes >= ONE_ASSOCIATION_MINUTES


@dataclass
class CecYear:
    year: int
    lines: list[CecLine] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        return sum(line.minutes for line in self.lines)

    @property
    def pending_minutes(self) -> int:
        return sum(line.pending_minutes for line in self.lines)

    @property
    def meets_total(self) -> bool:
        return self.minutes >= TOTAL_MINUTES

    @property
    def meets_one_association(self) -> bool:
        return any(line.meets_one_association for line in self.lines)

    @property
    def met(self) -> bool:
        return self.meets_total and self.meets_one_association

    @property
    def missing_total_minutes(self) -> int:
        return max(0, TOTAL_MINUTES - self.minutes)

    @property
    def best_association_minutes(self) -> int:
        return max((line.minutes for line in self.lines), default=0)

    @property
    def missing_one_association_minutes(self) -> int:
        return max(0, ONE_ASSOCIATION_MINUTES - self.best_association_minutes)

    @property
    def declaration_opens(self) -> dt.date:
        return dt.date(self.year + 1, 1, 1)

    @property
    def declaration_closes(self) -> dt.date:
        return dt.date(self.year + 1, 6, 30)


async def cec_year(db: AsyncSession, user: User, year: int) -> CecYear:
    """Approved (and, for information, pending) time of ``user`` per association in ``year``."""
    query = (
        select(
            TimeEntry.association_id,
            TimeEntry.status,
            func.count(TimeEntry.id),
            func.coalesce(func.sum(TimeEntry.duration_minutes), 0),
            func.min(TimeEntry.start_date),
            func.max(func.coalesce(TimeEntry.end_date, TimeEntry.start_date)),
        )
        .where(
            TimeEntry.user_id == user.id,
            TimeEntry.start_date.between(dt.date(year, 1, 1), dt.date(year, 12, 31)),
            TimeEntry.status.in_([EntryStatus.APPROVED, EntryStatus.PENDING]),
        )
        .group_by(TimeEntry.association_id, TimeEntry.status)
    )
    found = (await db.execute(query)).all()
    ids = {r[0] for r in found}
    associations = {a.id: a for a in await db.scalars(select(Association).where(Association.id.in_(ids)))}
    lines: dict[int, CecLine] = {}
    for association_id, status, entries, minutes, first, last in found:
        line = lines.setdefault(association_id, CecLine(associations[association_id], 0, 0, 0, None, None))
        if status == EntryStatus.APPROVED:
            line.entries, line.minutes, line.first_date, line.last_date = int(entries), int(minutes), first, last
        else:
            line.pending_minutes = int(minutes)
    result = CecYear(year, sorted(lines.values(), key=lambda line: (-line.minutes, line.association.name)))
    return result
