"""Volunteer time: entries and the anonymous links that let people without an account log it."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, Enum, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow


class EntryStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class AnonymousLink(Base):
    """An expiring link with which someone without an account logs time for one association."""

    __tablename__ = "anonymous_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(150))
    expires_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_anonymous_links_association", "association_id"),)


class TimeEntry(Base):
    __tablename__ = "time_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    anonymous_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("anonymous_links.id", ondelete="SET NULL"), default=None
    )
    participant_name: Mapped[str] = mapped_column(String(150), default="")  # anonymous or former member
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    level_id: Mapped[int | None] = mapped_column(ForeignKey("levels.id", ondelete="RESTRICT"), default=None)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"), default=None)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    duration_minutes: Mapped[int] = mapped_column(default=0)
    distance_km: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal("0"))
    title: Mapped[str] = mapped_column(String(127), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[EntryStatus] = mapped_column(
        Enum(EntryStatus, native_enum=False, length=16), default=EntryStatus.PENDING
    )
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Federation. On the association's instance, a remote volunteer's entry: its id there and the object as
    # received (embedded in the answers). On the volunteer's instance, an entry for a remote association: the
    # signed Accept received, which the volunteer's verifiable record carries.
    ap_id: Mapped[str | None] = mapped_column(String(500), unique=True, default=None)
    ap_object: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    accept_record: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    __table_args__ = (
        Index("ix_time_entries_association_date", "association_id", "start_date"),
        # covers the statistics and valuation queries, which then read the index alone
        Index(
            "ix_time_entries_association_status",
            "association_id",
            "status",
            "start_date",
            "category_id",
            "project_id",
            "level_id",
            "user_id",
            "duration_minutes",
            "distance_km",
            "participant_name",
        ),
        Index("ix_time_entries_user_date", "user_id", "start_date"),
        Index("ix_time_entries_anonymous_link", "anonymous_link_id"),
        Index("ix_time_entries_category", "category_id"),
    )


class EntryDigestPreference(Base):
    """A manager who asked for one daily mail about pending entries instead of a mail per entry."""

    __tablename__ = "entry_digest_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (UniqueConstraint("user_id", "association_id"),)
