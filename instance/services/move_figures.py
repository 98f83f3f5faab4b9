"""The counts and totals of a moved association, from the export file (before) and from the database (after).

Both sides use the same keys so that they can be shown side by side and compared: categories and projects by
name ("" for no project), members as ``user:<email>``, ``link:<uuid>`` (an anonymous member) or ``none``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import (
    AnonymousLink,
    Association,
    Category,
    EntryStatus,
    Level,
    Membership,
    Project,
    Role,
    TimeEntry,
    User,
)
from instance.services.benevalibre_records import Export

COUNTS = (
    "users",
    "roles",
    "memberships",
    "categories",
    "levels",
    "projects",
    "anonymous_links",
    "entries",
    "approved_entries",
    "pending_entries",
)
DIMENSIONS = ("category", "project", "member")


@dataclass
class Figures:
    counts: dict[str, int] = field(default_factory=dict)
    minutes: dict[str, dict[str, int]] = field(default_factory=lambda: {d: {} for d in DIMENSIONS})
    distance: dict[str, dict[str, Decimal]] = field(default_factory=lambda: {d: {} for d in DIMENSIONS})

    def add(self, keys: dict[str, str], minutes: int, distance: Decimal) -> None:
        for dimension, key in keys.items():
            self.minutes[dimension][key] = self.minutes[dimension].get(key, 0) + minutes
            self.distance[dimension][key] = self.distance[dimension].get(key, Decimal("0")) + distance

    @property
    def total_minutes(self) -> int:
        return sum(self.minutes["category"].values())

    @property
    def total_distance(self) -> Decimal:
        return sum(self.distance["category"].values(), Decimal("0"))

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "minutes": {d: dict(v) for d, v in self.minutes.items()},
            "distance": {d: {k: str(x) for k, x in v.items()} for d, v in self.distance.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        figures = cls(counts={k: int(v) for k, v in data.get("counts", {}).items()})
        for dimension in DIMENSIONS:
            figures.minutes[dimension] = {k: int(v) for k, v in data.get("minutes", {}).get(dimension, {}).items()}
            figures.distance[dimension] = {
                k: Decimal(v) for k, v in data.get("distance", {}).get(dimension, {}).items()
            }
        return figures


def member_key(email: str | None, link_uuid: str | None) -> str:
    if email:
        return f"user:{email.lower()}"
    if link_uuid:
        return f"link:{link_uuid}"
    return "none"


def figures_of_export(export: Export) -> Figures:
    """What the file holds: its counts, and time and distance per category, project and member."""
    linked = {m.email for m in export.memberships} | {a.email for a in export.actions if a.email}
    approved = sum(1 for a in export.actions if a.approved)
    figures = Figures(
        counts={
            "users": len(linked),
            "roles": len(export.roles),
            "memberships": len(export.memberships),
            "categories": len(export.categories),
            "levels": len(export.levels),
            "projects": len(export.projects),
            "anonymous_links": len(export.anonymous),
            "entries": len(export.actions),
            "approved_entries": approved,
            "pending_entries": len(export.actions) - approved,
        }
    )
    for action in export.actions:
        keys = {
            "category": action.category,
            "project": action.project or "",
            "member": member_key(action.email, action.anonymous),
        }
        figures.add(keys, action.minutes, action.distance_km)
    return figures


async def _count(db: AsyncSession, model: Any, association_id: int, *where: Any) -> int:
    query = select(func.count()).select_from(model).where(model.association_id == association_id, *where)
    return int(await db.scalar(query) or 0)


async def figures_of_association(
    db: AsyncSession,
    association: Association,
    link_uuids: dict[int, str],
    *,
    added_user_id: int | None = None,
    added_role_id: int | None = None,
) -> Figures:
    """What the database holds for ``association``; the owner's membership and the manager role that the
    import added (when the file had none) are left out, so that both sides compare."""
    aid = association.id
    member_ids = set((await db.scalars(select(Membership.user_id).where(Membership.association_id == aid))).all())
    author_ids = set(
        (
            await db.scalars(
                select(TimeEntry.user_id).where(TimeEntry.association_id == aid, TimeEntry.user_id.is_not(None))
            )
        ).all()
    )
    added_user = {added_user_id} if added_user_id is not None and added_user_id not in author_ids else set()
    figures = Figures(
        counts={
            "users": len((member_ids | author_ids) - added_user),
            "roles": await _count(db, Role, aid, Role.id != (added_role_id or 0)),
            "memberships": await _count(db, Membership, aid, Membership.user_id.not_in(added_user or {0})),
            "categories": await _count(db, Category, aid),
            "levels": await _count(db, Level, aid),
            "projects": await _count(db, Project, aid),
            "anonymous_links": await _count(db, AnonymousLink, aid),
            "entries": await _count(db, TimeEntry, aid),
            "approved_entries": await _count(db, TimeEntry, aid, TimeEntry.status == EntryStatus.APPROVED),
            "pending_entries": await _count(db, TimeEntry, aid, TimeEntry.status == EntryStatus.PENDING),
        }
    )
    await _add_totals(db, figures, aid, link_uuids)
    return figures


async def _add_totals(db: AsyncSession, figures: Figures, aid: int, link_uuids: dict[int, str]) -> None:
    rows = await db.execute(
        select(
            Category.name,
            Project.name,
            User.email,
            TimeEntry.anonymous_link_id,
            func.sum(TimeEntry.duration_minutes),
            func.sum(TimeEntry.distance_km),
        )
        .join(Category, Category.id == TimeEntry.category_id)
        .outerjoin(Project, Project.id == TimeEntry.project_id)
        .outerjoin(User, User.id == TimeEntry.user_id)
        .where(TimeEntry.association_id == aid)
        .group_by(Category.name, Project.name, User.email, TimeEntry.anonymous_link_id)
    )
    sums: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, Decimal("0")])
    for category, project, email, link_id, minutes, distance in rows:
        key = (category, project or "", member_key(email, link_uuids.get(link_id) if link_id else None))
        sums[key][0] += int(minutes or 0)
        sums[key][1] += Decimal(str(distance or 0)).quantize(Decimal("0.01"))
    for (category, project, member), (minutes, distance) in sums.items():
        figures.add({"category": category, "project": project, "member": member}, minutes, distance)
