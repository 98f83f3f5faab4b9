"""What the instance's admins set and say in the app: settings kept in the database, announcements, reports
(flags) sent to the admins, and the worker's heartbeat read by ``/healthz``."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow


class SiteSettings(Base):
    """One row (``id = 1``): the settings an admin changed in the app. ``None`` means "use the environment's
    setting" (or the built-in default for values the environment does not have)."""

    __tablename__ = "site_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_name: Mapped[str | None] = mapped_column(String(100), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    charter: Mapped[str | None] = mapped_column(Text, default=None)
    contact: Mapped[str | None] = mapped_column(String(300), default=None)
    user_registration: Mapped[str | None] = mapped_column(String(16), default=None)
    association_registration: Mapped[str | None] = mapped_column(String(16), default=None)
    default_hourly_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    federation_allowlist_only: Mapped[bool | None] = mapped_column(default=None)  # hear only allowed domains
    # codes of the shared categories copied into a new association (None: all of them)
    default_categories: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # levels created in a new association: [{"name": ..., "hourly_rate": "12.50"}] (None: none)
    default_levels: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class Audience(enum.StrEnum):
    EVERYONE = "everyone"  # every visitor, logged in or not
    USERS = "users"  # people logged in
    MANAGERS = "managers"  # people who manage at least one association


class Announcement(Base):
    """A message from the admins: a banner on every page of its audience until dismissed or expired, and/or
    a notification to each person of the audience when it is published."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[Audience] = mapped_column(Enum(Audience, native_enum=False, length=16))
    banner: Mapped[bool] = mapped_column(default=True)
    notified: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class FlagState(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Flag(Base):
    """A report sent to the admins about an association, a person or a time entry (remote actors later).

    ``target_kind`` and ``target_ref`` name the target (``association``/handle, ``user``/handle,
    ``entry``/id); ``target_label`` keeps what the reporter saw, in case the target is deleted.
    """

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    target_kind: Mapped[str] = mapped_column(String(32))
    target_ref: Mapped[str] = mapped_column(String(500))
    target_label: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[FlagState] = mapped_column(Enum(FlagState, native_enum=False, length=16), default=FlagState.OPEN)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    resolution: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_flags_state_created", "state", "created_at"),)


class WorkerHeartbeat(Base):
    """When each running worker (``host:pid``) last finished a round; ``/healthz`` reads the newest."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_round_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
