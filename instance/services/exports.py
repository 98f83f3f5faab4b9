"""Entries as rows for export: read in keyset batches, each in its own short session, so that memory stays
flat whatever the number of rows (see ``export_writers`` for the CSV, XLSX and ODS files).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from instance import reference
from instance.i18n import lazy_gettext
from instance.models import Association, Category, EntryStatus, Level, Project, TimeEntry, User
from instance.services.report_filters import EntryFilter
from instance.services.valuation import CENT, value_of

BATCH_SIZE = 2000

COLUMNS = (
    ("name", lazy_gettext("Name")),
    ("pseudonym", lazy_gettext("Pseudonym")),
    ("association", lazy_gettext("Association")),
    ("title", lazy_gettext("Title")),
    ("description", lazy_gettext("Description")),
    ("date", lazy_gettext("Date")),
    ("end_date", lazy_gettext("End date")),
    ("duration", lazy_gettext("Duration (HH:MM)")),
    ("hours", lazy_gettext("Hours (decimal)")),
    ("status", lazy_gettext("Status")),
    ("distance", lazy_gettext("Distance (km)")),
    ("category", lazy_gettext("Category")),
    ("common_category", lazy_gettext("Common category")),
    ("project", lazy_gettext("Project")),
    ("level", lazy_gettext("Level")),
    ("rate", lazy_gettext("Hourly value (EUR)")),
    ("valuation", lazy_gettext("Valuation (EUR)")),
)

STATUS_LABELS = {
    EntryStatus.PENDING: lazy_gettext("Pending"),
    EntryStatus.APPROVED: lazy_gettext("Approved"),
    EntryStatus.REJECTED: lazy_gettext("Rejected"),
    EntryStatus.WITHDRAWN: lazy_gettext("Withdrawn"),
}

Cell = str | dt.date | Decimal | None


@dataclass(frozen=True)
class Labels:
    """Every translated text of an export, resolved once in the language of the request."""

    header: tuple[str, ...]
    statuses: dict[str, str]
    common_categories: dict[str, str]

    @classmethod
    def current(cls) -> Labels:
        return cls(
            header=tuple(str(label) for _key, label in COLUMNS),
            statuses={status.value: str(label) for status, label in STATUS_LABELS.items()},
            common_categories={c.code: c.label for c in reference.common_categories()},
        )


@dataclass(frozen=True)
class ExportScope:
    """Whose entries: one association's, or (``association_id`` None) the entries of ``filters.user_id``."""

    filters: EntryFilter
    association_id: int | None = None
    default_rate: Decimal = Decimal("11.88")  # the instance's default, for associations without a rate

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = self.filters.conditions()
        if self.association_id is not None:
            conditions.append(TimeEntry.association_id == self.association_id)
        elif self.filters.user_id is None:
            raise ValueError("an export is of one association or of one person")
        return conditions


def hhmm(minutes: int) -> str:
    hours, rest = divmod(int(minutes), 60)
    return f"{hours:02d}:{rest:02d}"


def _query(scope: ExportScope, after: tuple[dt.date, int] | None, limit: int) -> Any:
    level = aliased(Level)
    query = (
        select(
            TimeEntry.id,
            TimeEntry.start_date,
            TimeEntry.user_id,
            TimeEntry.participant_name,
            TimeEntry.title,
            TimeEntry.description,
            TimeEntry.end_date,
            TimeEntry.duration_minutes,
            TimeEntry.status,
            TimeEntry.distance_km,
            User.display_name,
            User.pseudonym,
            Association.name,
            Association.hourly_rate,
            Category.name,
            Category.common_category,
            Project.name,
            level.name,
            level.hourly_rate,
        )
        .join(Association, Association.id == TimeEntry.association_id)
        .join(Category, Category.id == TimeEntry.category_id)
        .outerjoin(User, User.id == TimeEntry.user_id)
        .outerjoin(Project, Project.id == TimeEntry.project_id)
        .outerjoin(level, level.id == TimeEntry.level_id)
        .where(*scope.conditions())
        .order_by(TimeEntry.start_date, TimeEntry.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(TimeEntry.start_date, TimeEntry.id) > tuple_(*after))
    return query


def _cells(found: Any, scope: ExportScope, labels: Labels) -> tuple[Cell, ...]:
    (_id, start, user_id, anonymous, title, description, end, minutes, status, distance) = found[:10]
    name, pseudonym, association, association_rate, category, common, project, level, level_rate = found[10:]
    if level_rate is not None:
        rate = Decimal(level_rate)
    else:
        rate = Decimal(association_rate if association_rate is not None else scope.default_rate)
    return (
        name if user_id is not None else anonymous,
        pseudonym or "",
        association,
        title,
        description,
        start,
        end,
        hhmm(minutes),
        (Decimal(minutes) / 60).quantize(CENT, rounding=ROUND_HALF_UP),
        labels.statuses.get(str(status), str(status)),
        Decimal(str(distance or 0)).quantize(CENT),
        category,
        labels.common_categories.get(common, common),
        project or "",
        level or "",
        rate.quantize(CENT),
        value_of(minutes, rate),
    )


async def entry_batches(
    sessions: async_sessionmaker[AsyncSession], scope: ExportScope, labels: Labels, batch_size: int = BATCH_SIZE
) -> AsyncIterator[list[tuple[Cell, ...]]]:
    """The rows of the export, by date then id, ``batch_size`` at a time (one short session per batch)."""
    after: tuple[dt.date, int] | None = None
    while True:
        async with sessions() as db:
            found = (await db.execute(_query(scope, after, batch_size))).all()
            rows = [_cells(f, scope, labels) for f in found]
        if not rows:
            return
        yield rows
        if len(found) < batch_size:
            return
        after = (found[-1][1], found[-1][0])
