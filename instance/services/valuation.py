"""The money value of volunteer time (ANC regulation 2018-06): hours × hourly rate, per level.

Entries with a level are valued at that level's hourly rate; entries without one at the association's
rate, or the instance's default (the gross SMIC) when the association has none. Amounts are computed with
``Decimal`` from the exact minutes: ``minutes × rate / 60``, rounded half-up to the cent once per line
(per level); the total is the sum of the rounded lines, so the figures printed add up. Accounts 864
"Personnel bénévole" (debit) and 875 "Bénévolat" (credit) both carry that total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import Association, Level, TimeEntry
from instance.services.report_filters import EntryFilter
from instance.settings import Settings

CENT = Decimal("0.01")


def association_rate(association: Association, settings: Settings) -> Decimal:
    """The hourly value of entries without a level."""
    rate = association.hourly_rate if association.hourly_rate is not None else settings.default_hourly_rate
    return Decimal(rate)


def value_of(minutes: int, rate: Decimal) -> Decimal:
    """``minutes`` at ``rate`` euros per hour, rounded half-up to the cent."""
    return (Decimal(minutes) * Decimal(rate) / 60).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class ValuationLine:
    level_id: int | None
    name: str  # empty for entries without a level
    rate: Decimal
    entries: int
    minutes: int

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def amount(self) -> Decimal:
        return value_of(self.minutes, self.rate)


@dataclass
class Valuation:
    default_rate: Decimal
    lines: list[ValuationLine] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return sum(line.entries for line in self.lines)

    @property
    def minutes(self) -> int:
        return sum(line.minutes for line in self.lines)

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        """The sum of the rounded lines: the amount of account 864 (debit) and of account 875 (credit)."""
        return sum((line.amount for line in self.lines), Decimal("0.00"))


async def association_valuation(
    db: AsyncSession, settings: Settings, association: Association, filters: EntryFilter
) -> Valuation:
    valuation = Valuation(default_rate=association_rate(association, settings))
    query = (
        select(TimeEntry.level_id, func.count(TimeEntry.id), func.coalesce(func.sum(TimeEntry.duration_minutes), 0))
        .where(TimeEntry.association_id == association.id, *filters.conditions())
        .group_by(TimeEntry.level_id)
    )
    found = {r[0]: (int(r[1]), int(r[2])) for r in await db.execute(query)}
    levels = list(await db.scalars(select(Level).where(Level.association_id == association.id)))
    for level in sorted(levels, key=lambda lv: (Decimal(lv.hourly_rate), lv.name.casefold())):
        if level.id in found or not level.archived:
            entries, minutes = found.get(level.id, (0, 0))
            valuation.lines.append(ValuationLine(level.id, level.name, Decimal(level.hourly_rate), entries, minutes))
    if None in found or not levels:
        entries, minutes = found.get(None, (0, 0))
        valuation.lines.append(ValuationLine(None, "", valuation.default_rate, entries, minutes))
    return valuation
