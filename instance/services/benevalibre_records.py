"""What a Bénévalibre 2.x association export holds, once read and checked (plain values, no database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class ExportUser:
    email: str  # as written in the file; matched case-insensitively
    first_name: str
    last_name: str
    pseudo: str

    @property
    def display_name(self) -> str:
        return " ".join(f"{self.first_name} {self.last_name}".split())


@dataclass(frozen=True)
class ExportAssociation:
    name: str
    description: str
    website: str
    activity_fields: list[str]
    hidden: bool
    moderate_membership: bool
    moderate_entries: bool
    country: str
    postal_code: str
    has_employees: bool
    yearly_income: int | None
    is_active: bool


@dataclass(frozen=True)
class ExportRole:
    name: str
    description: str
    is_default: bool
    permissions: frozenset[str]  # our permission names


@dataclass(frozen=True)
class ExportCategory:
    name: str
    description: str
    common_category: str  # code of the shared default category


@dataclass(frozen=True)
class ExportNamed:
    """A level or a project: a name and a description."""

    name: str
    description: str


@dataclass(frozen=True)
class ExportMembership:
    email: str
    role: str
    active: bool


@dataclass(frozen=True)
class ExportAnonymous:
    uuid: str
    name: str
    expires_on: dt.date | None
    is_active: bool
    created_at: dt.datetime | None
    last_visit: dt.datetime | None


@dataclass(frozen=True)
class ExportAction:
    pk: int
    email: str | None  # the author's account, or
    anonymous: str | None  # the uuid of the anonymous member who logged it, or neither (nobody)
    category: str
    project: str | None
    level: str | None
    start_date: dt.date
    end_date: dt.date | None
    title: str
    description: str
    distance_km: Decimal
    minutes: int
    approved: bool


@dataclass
class Export:
    """Everything an export holds, checked and typed."""

    app_version: str
    exported_at: dt.datetime
    endpoint: str
    token: str
    association: ExportAssociation
    users: list[ExportUser] = field(default_factory=list)
    roles: list[ExportRole] = field(default_factory=list)
    categories: list[ExportCategory] = field(default_factory=list)
    levels: list[ExportNamed] = field(default_factory=list)
    projects: list[ExportNamed] = field(default_factory=list)
    memberships: list[ExportMembership] = field(default_factory=list)
    anonymous: list[ExportAnonymous] = field(default_factory=list)
    actions: list[ExportAction] = field(default_factory=list)
    unknown_activity_fields: list[str] = field(default_factory=list)
    rounded_actions: list[int] = field(default_factory=list)  # pks of actions whose seconds were rounded
