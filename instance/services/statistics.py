"""Statistics of an association's time entries and of the whole instance, aggregated in SQL.

Every breakdown is one ``GROUP BY`` query over the rows the filter selects (by default the approved
entries of one period); no query loads the entries themselves. "Volunteers" counts distinct accounts, plus
distinct names of entries that have no account (anonymous links, former members).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, String, case, cast, distinct, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instance import reference
from instance.models import Association, AssociationStatus, Category, EntryStatus, Level, Project, TimeEntry, User
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


def _where(query: Any, association: Association, filters: EntryFilter) -> Select[Any]:
    where: Select[Any] = query.where(TimeEntry.association_id == association.id, *filters.conditions())
    return where


def _month_key(dialect: str) -> ColumnElement[str]:
    """``YYYY-MM`` of the entry's date (SQLite keeps dates as ISO text)."""
    if dialect == "sqlite":
        return func.substr(TimeEntry.start_date, 1, 7)
    return func.to_char(TimeEntry.start_date, "YYYY-MM")


def _distinct_list(column: Any, dialect: str) -> ColumnElement[str]:
    """The distinct values of ``column`` in the group, as comma-separated text."""
    if dialect == "sqlite":
        return func.group_concat(distinct(column))
    return func.string_agg(distinct(cast(column, String)), ",")


async def association_statistics(
    sessions: async_sessionmaker[AsyncSession],
    association: Association,
    filters: EntryFilter,
    month_names: dict[int, str] | None = None,
) -> Statistics:
    """Totals and breakdowns of the entries ``filters`` selects in ``association``.

    Two grouped queries over the same rows: one per cell (month, project, category, level) with the
    entries, minutes and km, one per volunteer with their totals and the distinct months, projects,
    categories and levels they gave time to. Every breakdown is a roll-up of those (a few thousand rows at
    most for the largest association), so the entries are read twice instead of once per breakdown. The two
    queries run at the same time, each on its own connection.
    """
    async with sessions() as db:
        return await _association_statistics(db, sessions, association, filters, month_names or {})


async def _association_statistics(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    association: Association,
    filters: EntryFilter,
    month_names: dict[int, str],
) -> Statistics:
    dialect = db.get_bind().dialect.name
    month = _month_key(dialect)
    cells_query = _where(
        select(month, TimeEntry.project_id, TimeEntry.category_id, TimeEntry.level_id, *_sums()),
        association,
        filters,
    ).group_by(month, TimeEntry.project_id, TimeEntry.category_id, TimeEntry.level_id)
    anonymous = func.coalesce(_anonymous_name(), "")
    people_query = _where(
        select(
            TimeEntry.user_id,
            anonymous,
            *_sums(),
            _distinct_list(month, dialect),
            _distinct_list(func.coalesce(TimeEntry.project_id, 0), dialect),
            _distinct_list(TimeEntry.category_id, dialect),
            _distinct_list(func.coalesce(TimeEntry.level_id, 0), dialect),
        ),
        association,
        filters,
    ).group_by(TimeEntry.user_id, anonymous)
    cells, people = await asyncio.gather(_all(db, cells_query), _all_apart(sessions, people_query))
    stats = Statistics(totals=Row(None, ""))
    if not cells:
        return stats
    commons = await _common_codes(db, association)
    rollup = _Rollup(commons)
    for cell in cells:
        rollup.add_cell(cell)
    for person in people:
        rollup.add_person(person)
    stats.totals = rollup.totals
    stats.by_month = _month_rows(rollup.rows("month"), filters, month_names)
    stats.by_project = await _named(db, Project, rollup.rows("project"))
    stats.by_category = await _named(db, Category, rollup.rows("category"))
    stats.by_level = await _named(db, Level, rollup.rows("level"))
    stats.by_common_category = _common_rows(rollup.rows("common"))
    stats.by_member = await _member_rows(db, people)
    stats.members_shown = len(stats.by_member)
    return stats


async def _all(db: AsyncSession, query: Any) -> list[Any]:
    return list((await db.execute(query)).all())


async def _all_apart(sessions: async_sessionmaker[AsyncSession], query: Any) -> list[Any]:
    async with sessions() as db:
        return await _all(db, query)


def _sums() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count(TimeEntry.id),
        func.coalesce(func.sum(TimeEntry.duration_minutes), 0),
        func.coalesce(func.sum(TimeEntry.distance_km), 0),
    )


async def _common_codes(db: AsyncSession, association: Association) -> dict[int, str]:
    query = select(Category.id, Category.common_category).where(Category.association_id == association.id)
    return {int(r[0]): str(r[1]) for r in await db.execute(query)}


DIMENSIONS = ("month", "project", "category", "level", "common")


class _Rollup:
    """Adds the grouped rows up per breakdown; a key of 0 means "none" (no project, no level)."""

    def __init__(self, commons: dict[int, str]) -> None:
        self.commons = commons
        self.sums: dict[str, dict[Any, list[Any]]] = {d: {} for d in DIMENSIONS}
        self.people: dict[str, Counter[Any]] = {d: Counter() for d in DIMENSIONS}
        self.total: list[Any] = [0, 0, Decimal("0")]
        self.volunteers = 0

    def add_cell(self, cell: Any) -> None:
        month, project, category, level, entries, minutes, km = cell
        entries, minutes, km = int(entries), int(minutes), _km(km)
        keys = (month, project or 0, category, level or 0, self.commons.get(category, ""))
        for sums in (
            self.total,
            *(self.sums[d].setdefault(k, [0, 0, 0]) for d, k in zip(DIMENSIONS, keys, strict=True)),
        ):
            sums[0] += entries
            sums[1] += minutes
            sums[2] += km

    def add_person(self, person: Any) -> None:
        months, projects, categories, levels = (text.split(",") if text else [] for text in person[5:9])
        self.volunteers += 1
        self.people["month"].update(months)
        self.people["project"].update(map(int, projects))
        self.people["level"].update(map(int, levels))
        category_ids = [int(c) for c in categories]
        self.people["category"].update(category_ids)
        self.people["common"].update({self.commons.get(c, "") for c in category_ids})

    @property
    def totals(self) -> Row:
        entries, minutes, km = self.total
        return Row(None, "", entries, self.volunteers, minutes, km)

    def rows(self, dimension: str) -> dict[Any, Row]:
        people = self.people[dimension]
        return {
            key: Row(key, "", entries, people[key], minutes, Decimal(km))
            for key, (entries, minutes, km) in self.sums[dimension].items()
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
    rows.sort(key=lambda r: (-r.minutes, r.label))
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
    rows.sort(key=lambda r: (-r.minutes, r.label))
    return rows


async def _member_rows(db: AsyncSession, people: list[Any]) -> list[Row]:
    """The volunteers who gave the most time (at most ``MEMBER_ROWS``), named."""
    top = sorted(people, key=lambda p: (-int(p[3]), p[0] or 0, p[1]))[:MEMBER_ROWS]
    user_ids = [p[0] for p in top if p[0] is not None]
    users = {u.id: u for u in await db.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    rows = []
    for user_id, anonymous, entries, minutes, km, *_lists in top:
        user = users.get(user_id)
        label = (user.display_name or user.public_name) if user else anonymous
        rows.append(Row(user_id, label, int(entries), 1, int(minutes), _km(km)))
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
    by_status = dict((await db.execute(select(Association.status, func.count()).group_by(Association.status))).all())
    associations = {str(s.value): int(by_status.get(s, 0)) for s in AssociationStatus}
    accounts = int(await db.scalar(select(func.count()).select_from(User).where(User.is_active)) or 0)
    conditions: list[ColumnElement[bool]] = [TimeEntry.status == EntryStatus.APPROVED]
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
