"""Associations moved here from a Bénévalibre 2.x instance, and the uploads waiting for their import.

An ``AssociationMove`` records one import: where it came from (the origin's move endpoint and token), what
it became, and the state of the final confirmation sent back to the origin, which the worker retries until
the origin has it (pending -> confirmed, or failed after too many attempts or a refusal).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow


class MoveState(enum.StrEnum):
    PENDING = "pending"  # imported; the origin has not acknowledged the confirmation yet
    CONFIRMED = "confirmed"
    FAILED = "failed"  # the origin refused it, or the attempts ran out


class AssociationMove(Base):
    __tablename__ = "association_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int | None] = mapped_column(ForeignKey("associations.id", ondelete="SET NULL"), default=None)
    origin_endpoint: Mapped[str] = mapped_column(String(500))
    origin_token: Mapped[str] = mapped_column(String(100))
    origin_name: Mapped[str] = mapped_column(String(150))  # the association's name in the export
    app_version: Mapped[str] = mapped_column(String(20))
    exported_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # what the file held (counts and totals), what was set aside, and where each anonymous member went
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[MoveState] = mapped_column(Enum(MoveState, native_enum=False, length=16), default=MoveState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        UniqueConstraint("origin_endpoint", "origin_token"),
        Index("ix_association_moves_state", "state", "next_attempt_at"),
    )


class MoveUpload(Base):
    """An export file checked and previewed on the web, kept until its uploader confirms the import."""

    __tablename__ = "move_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
