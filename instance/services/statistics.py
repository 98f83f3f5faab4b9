"""Statistics of an association's time entries and of the whole instance, aggregated in SQL.

Every breakdown is one ``GROUP BY`` query over the rows the filter selects (by default the approved
entries of one period); no query loads the entries themselves. "Volunteers" counts distinct accounts, plus
distinct names of entries that have no account (anonymous links, former members).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instance import reference
from instance.models import Association, AssociationStatus, Category, EntryStatus, Level, Project, TimeEntry, User
from instance.services.entry_summary import Figures, Volunteer, entry_figures, summary_figures, summary_year
from instance.services.report_filters import EntryFilter

MEMBER_ROWS = 100  # the member breakdown shows the people who gave the most time, up to this many


@dataclass
class Row:
    """One line of a breakdown (or the totals)."""

    key: Any
    label: str
    entries: int = 0
    volunteers: int = 0
    minutes: int = 0
    km: Decimal = Decimal("0")

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(Decimal("0.01"))


@dataclass
class Statistics:
    totals: Row
    by_month: list[Row] = field(default_factory=list)
    by_project: list[Row] = field(default_factory=list)
    by_category: list[Row] = field(default_factory=list)
    by_common_category: list[Row] = field(default_factory=list)
    by_level: list[Row] = field(default_factory=list)
    by_member: list[Row] = field(default_factory=list)
    members_shown: int = 0


def _anonymous_name() -> ColumnElement[Any]:
    return case((TimeEntry.user_id.is_(None), TimeEntry.participant_name))


def _measures() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count(TimeEntry.id),
        func.count(distinct(TimeEntry.user_id)) + func.count(distinct(_anonymous_name())),
        func.coalesce(func.sum(TimeEntry.duration_minutes), 0),
        func.coalesce(func.sum(TimeEntry.distance_km), 0),
    )


def _row(key: Any, label: str, measures: Any) -> Row:
    entries, volunteers, minutes, km = measures
    return Row(key, label, int(entries), int(volunteers), int(minutes), _km(km))


def _km(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


async def association_statistics(
    sessions: async_sessionmaker[AsyncSession],
    association: Association,
    filters: EntryFilter,
    month_names: dict[int, str] | None = None,
    *,
    use_summaries: bool = True,
) -> Statistics:
    """Totals and breakdowns of the entries ``filters`` selects in ``association``.

    For a calendar year of approved (or approved and pending) entries, the page's filters, the figures come
    from the entry summaries (a few small queries); otherwise, or with ``use_summaries=False``, from two
    grouped queries over the entries (see ``instance.services.entry_summary``).
    """
    year = summary_year(filters) if use_summaries else None
    if year is None:
        figures = await entry_figures(sessions, association.id, filters, MEMBER_ROWS)
    async with sessions() as db:
        if year is not None:
            figures = await summary_figures(db, association.id, year, filters.statuses, MEMBER_ROWS)
        stats = Statistics(totals=Row(None, ""))
        if not figures.sums["month"]:
            return stats
        entries, minutes, km = figures.totals
        stats.totals = Row(None, "", entries, figures.total_volunteers, minutes, _km(km))
        stats.by_month = _month_rows(_rows(figures, "month"), filters, month_names or {})
        stats.by_project = await _named(db, Project, _rows(figures, "project"))
        stats.by_category = await _named(db, Category, _rows(figures, "category"))
        stats.by_level = await _named(db, Level, _rows(figures, "level"))
        stats.by_common_category = _common_rows(_rows(figures, "common"))
        stats.by_member = await _member_rows(db, figures.top)
    stats.members_shown = len(stats.by_member)
    return stats


def _rows(figures: Figures, dimension: str) -> dict[Any, Row]:
    people = figures.volunteers[dimension]
    return {
        key: Row(key, "", entries, people[key], minutes, _km(km))
        for key, (entries, minutes, km) in figures.sums[dimension].items()
    }


def _month_rows(found: dict[Any, Row], filters: EntryFilter, month_names: dict[int, str]) -> list[Row]:
    months = filters.period.months() if filters.period else sorted({tuple(map(int, k.split("-"))) for k in found})
    several_years = len({y for y, _m in months}) > 1
    rows = []
    for year, month in months:
        label = month_names.get(month, str(month))
        if several_years:
            label = f"{label} {year}"
        row = found.get(f"{year:04d}-{month:02d}") or Row(None, "")
        rows.append(Row((year, month), label, row.entries, row.volunteers, row.minutes, row.km))
    return rows


async def _named(
    db: AsyncSession, model: type[Project] | type[Category] | type[Level], found: dict[Any, Row]
) -> list[Row]:
    """Name the rows; by hours given, the row without a project / level (key 0) last."""
    ids = [k for k in found if k]
    names = dict((await db.execute(select(model.id, model.name).where(model.id.in_(ids)))).all()) if ids else {}
    rows = []
    for key, row in found.items():
        if key:
            row.label = names.get(key, "?")
            rows.append(row)
    rows.sort(key=lambda r: (-r.minutes, r.label, r.key))
    if 0 in found:
        found[0].key = None
        rows.append(found[0])
    return rows


def _common_rows(found: dict[Any, Row]) -> list[Row]:
    rows = []
    for code, row in found.items():
        common = reference.common_category(code)
        row.label = common.label if common else code
        rows.append(row)
    rows.sort(key=lambda r: (-r.minutes, r.label, r.key))
    return rows


async def _member_rows(db: AsyncSession, top: list[Volunteer]) -> list[Row]:
    """The volunteers who gave the most time, named."""
    user_ids = [p.user_id for p in top if p.user_id is not None]
    names: dict[int, str] = {}
    if user_ids:  # the name's columns only: a hundred whole accounts cost more than the rest of the page
        found = await db.execute(
            select(User.id, User.display_name, User.pseudonym, User.handle).where(User.id.in_(user_ids))
        )
        names = {user_id: name or pseudonym or handle for user_id, name, pseudonym, handle in found.all()}
    rows = []
    for person in top:
        label = names.get(person.user_id, person.name) if person.user_id is not None else person.name
        rows.append(Row(person.user_id, label, person.entries, 1, person.minutes, _km(person.km)))
    return rows


# -- the volunteer's own figures -------------------------------------------------------------------------------


@dataclass
class AssociationHours:
    association: Association
    approved_year: int = 0
    pending_year: int = 0
    approved_total: int = 0
    pending_total: int = 0


async def volunteer_hours(db: AsyncSession, user: User, year: int) -> list[AssociationHours]:
    """Minutes approved and pending, this year and in all, per association the person logged time for."""
    this_year = case((extract("year", TimeEntry.start_date) == year, 1), else_=0)
    query = (
        select(TimeEntry.association_id, TimeEntry.status, this_year, func.sum(TimeEntry.duration_minutes))
        .where(TimeEntry.user_id == user.id, TimeEntry.status.in_([EntryStatus.APPROVED, EntryStatus.PENDING]))
        .group_by(TimeEntry.association_id, TimeEntry.status, this_year)
    )
    found = (await db.execute(query)).all()
    ids = {r[0] for r in found}
    associations = {a.id: a for a in await db.scalars(select(Association).where(Association.id.in_(ids)))}
    result: dict[int, AssociationHours] = {}
    for association_id, status, in_year, minutes in found:
        hours = result.setdefault(association_id, AssociationHours(associations[association_id]))
        approved = status == EntryStatus.APPROVED
        if approved:
            hours.approved_total += int(minutes)
        else:
            hours.pending_total += int(minutes)
        if in_year:
            if approved:
                hours.approved_year += int(minutes)
            else:
                hours.pending_year += int(minutes)
    return sorted(result.values(), key=lambda h: h.association.name.casefold())


# -- the instance ---------------------------------------------------------------------------------------------


@dataclass
class InstanceStatistics:
    associations: dict[str, int]
    accounts: int
    active_volunteers: int
    totals: Row
    by_common_category: list[Row]


async def instance_statistics(db: AsyncSession, year: int | None) -> InstanceStatistics:
    """Counts for the instance's admins; hours are approved entries of ``year`` (or of every year)."""
    local = Association.actor_uri.is_(None)  # not the associations of other instances joined from here
    counted = select(Association.status, func.count()).where(local).group_by(Association.status)
    by_status = dict((await db.execute(counted)).all())
    associations = {str(s.value): int(by_status.get(s, 0)) for s in AssociationStatus}
    people = select(func.count()).select_from(User).where(User.is_active, User.actor_uri.is_(None))
    accounts = int(await db.scalar(people) or 0)
    conditions: list[ColumnElement[bool]] = [
        TimeEntry.status == EntryStatus.APPROVED,
        TimeEntry.association_id.in_(select(Association.id).where(local)),  # the others count there
    ]
    if year is not None:
        conditions.append(TimeEntry.start_date.between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
    totals = (await db.execute(select(*_measures()).where(*conditions))).one()
    code = Category.common_category
    query = (
        select(code, *_measures())
        .join(Category, Category.id == TimeEntry.category_id)
        .where(*conditions)
        .group_by(code)
    )
    rows = []
    for found in await db.execute(query):
        common = reference.common_category(found[0])
        rows.append(_row(found[0], common.label if common else found[0], found[1:]))
    rows.sort(key=lambda r: (-r.minutes, r.label))
    totals_row = _row(None, "", totals)
    return InstanceStatistics(associations, accounts, totals_row.volunteers, totals_row, rows)
