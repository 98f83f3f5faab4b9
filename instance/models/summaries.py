"""Summaries of the time entries that the statistics page reads instead of the entries themselves.

Both tables are derived from ``time_entries`` alone and only hold approved and pending entries (the statuses
the statistics count). ``instance.models.summary_upkeep`` rewrites the affected rows in the same transaction as
every change of entries, so they are always exact; ``rebuild_summaries`` writes them anew from the entries.

- ``entry_month_summaries``: one row per association, month, status, project, category and level with the
  number of entries, the minutes and the distance (the sums the page adds up per month, project, ...).
- ``entry_volunteer_summaries``: one row per association, year, status and volunteer (an account, or the name
  of an entry without account) with that person's totals and the months, projects, categories and levels they
  gave time to, as comma-separated lists: the distinct volunteers of each breakdown, which cannot be added up
  from monthly counts, come from these;
- ``entry_volunteer_counts``: the number of distinct volunteers per year and month, project, category,
  common category and level, kept from the previous table.

Keys use 0 for "none" (no project, no level, no account) so that they can be part of the primary key.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base
from instance.models.entries import EntryStatus


class EntryMonthSummary(Base):
    __tablename__ = "entry_month_summaries"

    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[EntryStatus] = mapped_column(Enum(EntryStatus, native_enum=False, length=16), primary_key=True)
    project_id: Mapped[int] = mapped_column(primary_key=True)  # 0: no project
    category_id: Mapped[int] = mapped_column(primary_key=True)
    level_id: Mapped[int] = mapped_column(primary_key=True)  # 0: no level
    entries: Mapped[int] = mapped_column(default=0)
    minutes: Mapped[int] = mapped_column(default=0)
    distance_km: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))


class EntryVolunteerSummary(Base):
    __tablename__ = "entry_volunteer_summaries"

    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[EntryStatus] = mapped_column(Enum(EntryStatus, native_enum=False, length=16), primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)  # 0: entries without account, told apart by name
    participant_name: Mapped[str] = mapped_column(String(150), primary_key=True)  # "" for an account
    entries: Mapped[int] = mapped_column(default=0)
    minutes: Mapped[int] = mapped_column(default=0)
    distance_km: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    months: Mapped[str] = mapped_column(Text, default="")  # month numbers, "1,2,12"
    projects: Mapped[str] = mapped_column(Text, default="")  # project ids, 0 for entries without project
    categories: Mapped[str] = mapped_column(Text, default="")
    levels: Mapped[str] = mapped_column(Text, default="")  # level ids, 0 for entries without level


class EntryVolunteerCount(Base):
    """How many distinct volunteers gave time in one year to each month, project, category, common category and
    level (``dimension`` and ``key``), and in all (dimension ``all``), counting approved entries (``scope``
    ``approved``) or approved and pending ones (``counted``). Kept from ``entry_volunteer_summaries``."""

    __tablename__ = "entry_volunteer_counts"

    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # "approved" or "counted"
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)  # all, month, project, category, ...
    key: Mapped[str] = mapped_column(String(32), primary_key=True)  # month number, id (0: none) or common code
    volunteers: Mapped[int] = mapped_column(default=0)
