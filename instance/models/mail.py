"""Outgoing mail, kept as rows: the worker sends them, and an admin reads them when no SMTP is set."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow


class MailState(enum.StrEnum):
    QUEUED = "queued"  # waiting for the worker
    SENT = "sent"
    LOGGED = "logged"  # no SMTP server configured: kept here for the admin to read
    FAILED = "failed"  # gave up after the last attempt


class OutgoingMail(Base):
    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[MailState] = mapped_column(Enum(MailState, native_enum=False, length=16), default=MailState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_outgoing_mail_state_next", "state", "next_attempt_at"),)
