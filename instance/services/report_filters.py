"""Which entries a report covers: a period, statuses, and optionally one member, project or category.

Shared by statistics, valuation, exports, the CEC helper and attestations, so that every figure and every
export of the same filters counts the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement

from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import EntryStatus, TimeEntry

APPROVED_ONLY = frozenset({EntryStatus.APPROVED})
COUNTED = frozenset({EntryStatus.APPROVED, EntryStatus.PENDING})


@dataclass(frozen=True)
class Period:
    """Entries whose (start) date is between ``start`` and ``end``, both included."""

    start: dt.date
    end: dt.date

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))

    @property
    def calendar_year(self) -> int | None:
        """The year when the period is exactly one calendar year."""
        if self.start == dt.date(self.start.year, 1, 1) and self.end == dt.date(self.start.year, 12, 31):
            return self.start.year
        return None

    def months(self) -> list[tuple[int, int]]:
        """Every (year, month) the period touches, in order."""
        months = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            months.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return months


def parse_date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError({name: lazy_gettext("Please give a date such as 2025-03-31.")}) from None


def parse_period(params: dict[str, str], today: dt.date, *, allow_all: bool = False) -> Period | None:
    """The period asked for by ``year=YYYY`` or ``from=…&to=…`` (ISO dates); the current year by default.

    ``year=all`` (when ``allow_all``) means no period at all.
    """
    start_text, end_text = params.get("from", "").strip(), params.get("to", "").strip()
    if start_text or end_text:
        start = parse_date(start_text, "from") if start_text else dt.date(1900, 1, 1)
        end = parse_date(end_text, "to") if end_text else today
        if end < start:
            raise ValidationError({"to": lazy_gettext("The end of the period comes before its start.")})
        return Period(start, end)
    year_text = params.get("year", "").strip()
    if allow_all and year_text == "all":
        return None
    if not year_text:
        return Period.year(today.year)
    if not year_text.isdecimal() or not 1900 <= int(year_text) <= 2200:
        raise ValidationError({"year": lazy_gettext("Please give a year such as 2025.")})
    return Period.year(int(year_text))


def parse_statuses(text: str, default: frozenset[EntryStatus] = APPROVED_ONLY) -> frozenset[EntryStatus]:
    """``approved``, ``pending``, ``rejected``, ``withdrawn``, ``counted`` (approved and pending) or ``all``."""
    text = text.strip()
    if not text:
        return default
    if text == "all":
        return frozenset()
    if text == "counted":
        return COUNTED
    try:
        return frozenset({EntryStatus(text)})
    except ValueError:
        raise ValidationError({"status": lazy_gettext("Unknown status.")}) from None


def parse_id(text: str, name: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdecimal() or len(text) > 18:
        raise ValidationError({name: lazy_gettext("Unknown choice.")})
    return int(text)


@dataclass(frozen=True)
class EntryFilter:
    """The rows a report counts; an empty ``statuses`` means every status."""

    period: Period | None = None
    statuses: frozenset[EntryStatus] = field(default=APPROVED_ONLY)
    user_id: int | None = None
    project_id: int | None = None
    category_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if len(self.statuses) == 1:
            (status,) = self.statuses
            conditions.append(TimeEntry.status == status)
        elif self.statuses:
            conditions.append(TimeEntry.status.in_(sorted(self.statuses)))
        if self.period is not None:
            conditions.append(TimeEntry.start_date.between(self.period.start, self.period.end))
        if self.user_id is not None:
            conditions.append(TimeEntry.user_id == self.user_id)
        if self.project_id is not None:
            conditions.append(TimeEntry.project_id == self.project_id)
        if self.category_id is not None:
            conditions.append(TimeEntry.category_id == self.category_id)
        return conditions

    @classmethod
    def for_export(
        cls, values: dict[str, str], today: dt.date, default_status: str, user_id: int | None = None
    ) -> EntryFilter:
        """The rows of an export: a period (``year=all`` for every date), statuses, and a member (unless
        ``user_id`` fixes it), project or category."""
        return cls(
            period=parse_period(values, today, allow_all=True),
            statuses=parse_statuses(values.get("status", "") or default_status),
            user_id=user_id if user_id is not None else parse_id(values.get("member", ""), "member"),
            project_id=parse_id(values.get("project", ""), "project"),
            category_id=parse_id(values.get("category", ""), "category"),
        )

    @property
    def status_code(self) -> str:
        """The ``status`` query parameter that gives back these statuses."""
        if not self.statuses:
            return "all"
        if self.statuses == COUNTED:
            return "counted"
        if len(self.statuses) == 1:
            return next(iter(self.statuses)).value
        return "approved"
