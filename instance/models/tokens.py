"""Personal access tokens: what lets scripts and phone shortcuts use the JSON API on a person's behalf.

Only a SHA-256 digest of the token is stored (the token is shown once, when it is made); ``prefix`` is its
first characters, shown in the list so that a person can tell their tokens apart.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow


class TokenScope(enum.StrEnum):
    READ = "read"  # GET requests only
    WRITE = "write"  # read and write


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[TokenScope] = mapped_column(Enum(TokenScope, native_enum=False, length=8))
    # When set, the token acts only on this association (and on the person's entries in it).
    association_id: Mapped[int | None] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), default=None)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the whole token
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_api_tokens_user", "user_id"),)
