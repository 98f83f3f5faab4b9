"""People with an account on this instance."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow


class Handle(Base):
    """One row per local handle, so that volunteers and associations never share one (``@handle@host``)."""

    __tablename__ = "handles"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "user" or "association"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    handle: Mapped[str] = mapped_column(String(64), ForeignKey("handles.handle", ondelete="RESTRICT"), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    display_name: Mapped[str] = mapped_column(String(150), default="")
    pseudonym: Mapped[str] = mapped_column(String(150), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    is_active: Mapped[bool] = mapped_column(default=False)
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_suspended: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="SET NULL"), default=None
    )
    # Set for a person of another server who joined a local association: the row stands for them here (they
    # never log in; their address is a placeholder that is never written to).
    actor_uri: Mapped[str | None] = mapped_column(String(500), unique=True, default=None)

    @property
    def is_remote(self) -> bool:
        return self.actor_uri is not None

    @property
    def public_name(self) -> str:
        """The name shown to others: the pseudonym when there is one, else the name, else the handle."""
        return self.pseudonym or self.display_name or self.handle


class EndedSession(Base):
    """A login session ended by logging out. Sessions live in signed cookies; a copy of one taken before the
    logout would still be valid, so its id stays here, refused, until the cookie would have expired anyway
    (``ends_at``). Logging out removes the rows whose time has passed."""

    __tablename__ = "ended_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the session's ``sid``
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(index=True)
