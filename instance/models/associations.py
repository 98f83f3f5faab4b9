"""Associations, their roles and their members."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import JSON, Enum, ForeignKey, Index, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from instance.models.accounts import User
from instance.models.base import Base, utcnow


class AssociationStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the instance admin
    ACTIVE = "active"
    REFUSED = "refused"


class MembershipStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"


PERMISSIONS = (
    "list_members",
    "manage_members",
    "manage_entries",
    "manage_categories",
    "manage_levels",
    "manage_projects",
    "manage_roles",
    "manage_association",
)


class Association(Base):
    __tablename__ = "associations"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), ForeignKey("handles.handle", ondelete="RESTRICT"), unique=True)
    name: Mapped[str] = mapped_column(String(150))
    name_key: Mapped[str] = mapped_column(String(150), unique=True)  # casefolded name, unique per instance
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    activity_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    country: Mapped[str] = mapped_column(String(2), default="FR")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    has_employees: Mapped[bool] = mapped_column(default=False)
    yearly_income: Mapped[int | None] = mapped_column(default=None)  # euros
    hidden: Mapped[bool] = mapped_column(default=False)
    moderate_membership: Mapped[bool] = mapped_column(default=False)
    moderate_entries: Mapped[bool] = mapped_column(default=True)
    hourly_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    status: Mapped[AssociationStatus] = mapped_column(
        Enum(AssociationStatus, native_enum=False, length=16), default=AssociationStatus.ACTIVE
    )
    status_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    has_logo: Mapped[bool] = mapped_column(default=False)
    # Set for an association of another instance that local volunteers joined: the row mirrors its profile and
    # catalog so that their entries, lists and totals work as for a local one; the other instance decides.
    actor_uri: Mapped[str | None] = mapped_column(String(500), unique=True, default=None)
    catalog_fetched_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_associations_status_hidden", "status", "hidden"),)

    @property
    def is_remote(self) -> bool:
        return self.actor_uri is not None


class AssociationLogo(Base):
    """The logo's bytes, kept in the database so backups hold everything."""

    __tablename__ = "association_logos"

    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    list_members: Mapped[bool] = mapped_column(default=False)
    manage_members: Mapped[bool] = mapped_column(default=False)
    manage_entries: Mapped[bool] = mapped_column(default=False)
    manage_categories: Mapped[bool] = mapped_column(default=False)
    manage_levels: Mapped[bool] = mapped_column(default=False)
    manage_projects: Mapped[bool] = mapped_column(default=False)
    manage_roles: Mapped[bool] = mapped_column(default=False)
    manage_association: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (UniqueConstraint("association_id", "name"),)

    def allows(self, permission: str) -> bool:
        """Whether this role grants ``permission``; managing the association implies every permission."""
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        return self.manage_association or bool(getattr(self, permission))


class Membership(Base):
    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    association_id: Mapped[int] = mapped_column(ForeignKey("associations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"))
    status: Mapped[MembershipStatus] = mapped_column(
        Enum(MembershipStatus, native_enum=False, length=16), default=MembershipStatus.PENDING
    )
    message: Mapped[str] = mapped_column(Text, default="")  # what the applicant wrote
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    role: Mapped[Role] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")
    association: Mapped[Association] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("association_id", "user_id"),
        Index("ix_memberships_user", "user_id", "status"),
        Index("ix_memberships_association_status", "association_id", "status"),
    )
