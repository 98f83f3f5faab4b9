"""The figures behind the statistics page, from the entry summaries or from the entries themselves.

:class:`Figures` holds, per breakdown (month, project, category, common category, level), the entries, minutes
and distance of each row and its number of distinct volunteers, plus the volunteers who gave the most time.
The summaries (``instance.models.summaries``) serve a calendar year of approved, or of approved and pending,
entries, the page's own filters, with a few small queries; any other filter reads ``time_entries`` with two
grouped queries and adds them up here.

Keys: month ``"YYYY-MM"``; project, category and level ids, 0 for "none"; common category code.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, String, case, cast, distinct, func, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instance.models import (
    Category,
    EntryMonthSummary,
    EntryStatus,
    EntryVolunteerCount,
    EntryVolunteerSummary,
    TimeEntry,
)
from instance.services.report_filters import APPROVED_ONLY, COUNTED, EntryFilter

DIMENSIONS = ("month", "project", "category", "common", "level")
SCOPES = {APPROVED_ONLY: "approved", COUNTED: "counted"}  # the statuses the summaries count volunteers for


@dataclass
class Volunteer:
    """An account (``user_id``) or, for entries without account, a name."""

    user_id: int | None
    name: str
    entries: int = 0
    minutes: int = 0
    km: Decimal = Decimal("0")


@dataclass
class Figures:
    sums: dict[str, dict[Any, list[Any]]] = field(default_factory=lambda: {d: {} for d in DIMENSIONS})
    volunteers: dict[str, Counter[Any]] = field(default_factory=lambda: {d: Counter() for d in DIMENSIONS})
    total_volunteers: int = 0
    top: list[Volunteer] = field(default_factory=list)  # by minutes given, at most ``top`` asked

    def add(self, dimension: str, key: Any, entries: int, minutes: int, km: Decimal) -> None:
        sums = self.sums[dimension].setdefault(key, [0, 0, Decimal("0")])
        sums[0] += entries
        sums[1] += minutes
        sums[2] += km

    @property
    def totals(self) -> tuple[int, int, Decimal]:
        """Entries, minutes and distance of all the rows."""
        rows = self.sums["month"].values()
        return sum(r[0] for r in rows), sum(r[1] for r in rows), sum((r[2] for r in rows), Decimal("0"))


def summary_year(filters: EntryFilter) -> int | None:
    """The calendar year whose summaries give exactly the figures of ``filters``, if there is one."""
    if filters.period is None or filters.statuses not in SCOPES:
        return None
    if filters.user_id is not None or filters.project_id is not None or filters.category_id is not None:
        return None
    return filters.period.calendar_year


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _by_rank(volunteer: Volunteer) -> tuple[int, int, str]:
    return -volunteer.minutes, volunteer.user_id or 0, volunteer.name


# -- from the summaries ---------------------------------------------------------------------------------------


async def summary_figures(
    db: AsyncSession, association_id: int, year: int, statuses: frozenset[EntryStatus], top: int
) -> Figures:
    figures = Figures()
    months = EntryMonthSummary
    # the year's cells are read once (a materialized CTE), then summed along each dimension
    cells = (
        select(months.month, months.project_id, months.category_id, months.level_id, *_sums_of(months))
        .where(months.association_id == association_id, months.year == year, months.status.in_(sorted(statuses)))
        .cte("cells")
        .prefix_with("MATERIALIZED")
    )
    sums = (func.sum(cells.c.entries), func.sum(cells.c.minutes), func.sum(cells.c.distance_km))
    none: ColumnElement[str] = literal_column("''")
    parts: list[Any] = [
        select(literal_column(f"'{name}'"), column, none, *sums).group_by(column)
        for name, column in (
            ("month", cells.c.month),
            ("project", cells.c.project_id),
            ("category", cells.c.category_id),
            ("level", cells.c.level_id),
        )
    ]
    parts.append(
        select(literal_column("'common'"), literal_column("0"), Category.common_category, *sums)
        .join(Category, Category.id == cells.c.category_id)
        .group_by(Category.common_category)
    )
    for dimension, number, code, entries, minutes, km in await db.execute(union_all(*parts)):
        key = f"{year:04d}-{int(number):02d}" if dimension == "month" else code if dimension == "common" else number
        figures.add(dimension, key, int(entries), int(minutes), _decimal(km))
    if not figures.sums["month"]:
        return figures
    counts = EntryVolunteerCount
    query = select(counts.dimension, counts.key, counts.volunteers).where(
        counts.association_id == association_id, counts.year == year, counts.scope == SCOPES[statuses]
    )
    for dimension, text, volunteers in await db.execute(query):
        if dimension == "all":
            figures.total_volunteers = volunteers
        elif dimension == "month":
            figures.volunteers["month"][f"{year:04d}-{int(text):02d}"] = volunteers
        else:
            figures.volunteers[dimension][text if dimension == "common" else int(text)] = volunteers
    figures.top = await _summary_top(db, association_id, year, statuses, top)
    return figures


async def _summary_top(
    db: AsyncSession, association_id: int, year: int, statuses: frozenset[EntryStatus], top: int
) -> list[Volunteer]:
    """The ``top`` volunteers by minutes given (ties in the same order as the direct roll-up)."""
    people = EntryVolunteerSummary
    minutes = func.sum(people.minutes)
    query = (
        select(people.user_id, people.participant_name, func.sum(people.entries), minutes, func.sum(people.distance_km))
        .where(people.association_id == association_id, people.year == year, people.status.in_(sorted(statuses)))
        .group_by(people.user_id, people.participant_name)
    )
    found = list(await db.execute(query.order_by(minutes.desc()).limit(top)))
    if len(found) == top:  # everyone with as many minutes as the last one, to break ties as the entries would
        found = list(await db.execute(query.having(minutes >= found[-1][3])))
    volunteers = [
        Volunteer(user_id or None, name, int(entries), int(minutes_given), _decimal(km))
        for user_id, name, entries, minutes_given, km in found
    ]
    return sorted(volunteers, key=_by_rank)[:top]


# -- from the entries -----------------------------------------------------------------------------------------


async def entry_figures(
    sessions: async_sessionmaker[AsyncSession], association_id: int, filters: EntryFilter, top: int
) -> Figures:
    """Two grouped queries over the entries ``filters`` selects, at the same time on two connections: one per
    cell (month, project, category, level), one per volunteer with the distinct months, projects, categories
    and levels they gave time to."""
    async with sessions() as db:
        dialect = db.get_bind().dialect.name
        commons = await _commons(db, association_id)
        cells, people = await asyncio.gather(
            _all(db, _cells_query(dialect, association_id, filters)),
            _all_apart(sessions, _volunteers_query(dialect, association_id, filters)),
        )
    figures = Figures()
    for month, project, category, level, entries, minutes, km in cells:
        values = (int(entries), int(minutes), _decimal(km))
        keys = (str(month), int(project), int(category), commons.get(int(category), ""), int(level))
        for dimension, key in zip(DIMENSIONS, keys, strict=True):
            figures.add(dimension, key, *values)
    volunteers = []
    for user_id, name, entries, minutes, km, months, projects, categories, levels in people:
        volunteers.append(Volunteer(user_id, name or "", int(entries), int(minutes), _decimal(km)))
        category_ids = _ids(categories)
        figures.volunteers["month"].update(_split(months))
        figures.volunteers["project"].update(_ids(projects))
        figures.volunteers["category"].update(category_ids)
        figures.volunteers["common"].update({commons.get(c, "") for c in category_ids})
        figures.volunteers["level"].update(_ids(levels))
    figures.total_volunteers = len(volunteers)
    figures.top = sorted(volunteers, key=_by_rank)[:top]
    return figures


def _split(text: str | None) -> list[str]:
    return text.split(",") if text else []


def _ids(text: str | None) -> list[int]:
    return [int(part) for part in _split(text)]


async def _commons(db: AsyncSession, association_id: int) -> dict[int, str]:
    query = select(Category.id, Category.common_category).where(Category.association_id == association_id)
    return {int(category_id): str(code) for category_id, code in await db.execute(query)}


async def _all(db: AsyncSession, query: Any) -> list[Any]:
    return list((await db.execute(query)).all())


async def _all_apart(sessions: async_sessionmaker[AsyncSession], query: Any) -> list[Any]:
    async with sessions() as db:
        return await _all(db, query)


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


def _sums_of(months: type[EntryMonthSummary]) -> tuple[Any, ...]:
    return (months.entries, months.minutes, months.distance_km)


def _sums() -> tuple[ColumnElement[Any], ...]:
    return (
        func.count(TimeEntry.id),
        func.coalesce(func.sum(TimeEntry.duration_minutes), 0),
        func.coalesce(func.sum(TimeEntry.distance_km), 0),
    )


def _where(query: Select[Any], association_id: int, filters: EntryFilter) -> Select[Any]:
    return query.where(TimeEntry.association_id == association_id, *filters.conditions())


def _cells_query(dialect: str, association_id: int, filters: EntryFilter) -> Select[Any]:
    month = _month_key(dialect)
    keys = (month, func.coalesce(TimeEntry.project_id, 0), TimeEntry.category_id, func.coalesce(TimeEntry.level_id, 0))
    return _where(select(*keys, *_sums()), association_id, filters).group_by(*keys)


def _volunteers_query(dialect: str, association_id: int, filters: EntryFilter) -> Select[Any]:
    anonymous = func.coalesce(case((TimeEntry.user_id.is_(None), TimeEntry.participant_name)), "")
    query = select(
        TimeEntry.user_id,
        anonymous,
        *_sums(),
        _distinct_list(_month_key(dialect), dialect),
        _distinct_list(func.coalesce(TimeEntry.project_id, 0), dialect),
        _distinct_list(TimeEntry.category_id, dialect),
        _distinct_list(func.coalesce(TimeEntry.level_id, 0), dialect),
    )
    return _where(query, association_id, filters).group_by(TimeEntry.user_id, anonymous)
