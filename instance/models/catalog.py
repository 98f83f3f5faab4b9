"""An association's catalog: the categories, levels and projects its entries refer to."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    common_category: Mapped[str] = mapped_column(String(32))  # code of a shared default category
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ap_id: Mapped[str | None] = mapped_column(String(500), unique=True, default=None)  # of a remote catalog

    __table_args__ = (Index("ix_categories_association", "association_id", "archived"),)


class Level(Base):
    __tablename__ = "levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    hourly_rate: Mapped[Decimal] = mapped_column(Numeric(10, 2))  # euros per hour
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ap_id: Mapped[str | None] = mapped_column(String(500), unique=True, default=None)  # of a remote catalog

    __table_args__ = (Index("ix_levels_association", "association_id", "archived"),)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    archived: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ap_id: Mapped[str | None] = mapped_column(String(500), unique=True, default=None)  # of a remote catalog

    __table_args__ = (Index("ix_projects_association", "association_id", "archived"),)
