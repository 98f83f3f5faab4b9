"""Short news notes an association publishes to its members and followers (an ActivityPub ``Note``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow


class News(Base):
    """A note of a local association, or one received from a remote association that volunteers here joined
    (then ``ap_id`` is its id there)."""

    __tablename__ = "news"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    text: Mapped[str] = mapped_column(Text)
    ap_id: Mapped[str | None] = mapped_column(String(500), unique=True, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_news_association_created", "association_id", "created_at"),)
