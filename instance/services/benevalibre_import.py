"""Bringing an association over from Bénévalibre 2.x: an export file written to our tables in one transaction.

``import_export`` checks what the database must allow (not imported yet, a free name, someone to manage it),
asks the origin whether the move is still open, then writes users, the association, its roles, categories,
levels, projects, memberships, anonymous links and every action, and records an ``AssociationMove`` whose
confirmation to the origin is pending. It flushes; the caller commits, then calls ``confirm_move`` (the worker
retries it if the origin cannot be reached). On any ValidationError the caller rolls back: nothing is written.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance import reference
from instance.errors import ValidationError
from instance.i18n import N_, lazy_gettext
from instance.models import (
    AnonymousLink,
    Association,
    AssociationMove,
    AssociationStatus,
    Category,
    EntryStatus,
    Level,
    Membership,
    MembershipStatus,
    Project,
    Role,
    TimeEntry,
    User,
)
from instance.runtime import Instance
from instance.services.associations import PATH_WORDS, check_profile, name_key
from instance.services.benevalibre_records import Export
from instance.services.handles import reserve_handle
from instance.services.move_accounts import match_or_create, send_activation, slug, unique_handle
from instance.services.move_figures import Figures, figures_of_association, figures_of_export
from instance.services.move_protocol import OriginClient, attempt_confirmation
from instance.services.notifications import notify

ENTRY_BATCH = 1000


@dataclass
class ImportResult:
    association: Association
    move: AssociationMove
    before: Figures
    after: Figures
    created: list[str] = field(default_factory=list)  # emails of the accounts created (inactive)
    matched: list[str] = field(default_factory=list)  # emails of the existing accounts found
    warnings: list[str] = field(default_factory=list)


async def check_importable(db: AsyncSession, export: Export, name: str) -> None:
    """Refuse an export already imported here, or whose name an association of this instance has."""
    done = await db.scalar(
        select(AssociationMove).where(
            AssociationMove.origin_endpoint == export.endpoint, AssociationMove.origin_token == export.token
        )
    )
    if done is not None:
        raise ValidationError(
            {
                "file": lazy_gettext(
                    "This export was already imported on %(date)s: nothing was changed.",
                    date=done.imported_at.date().isoformat(),
                )
            }
        )
    if await db.scalar(select(Association.id).where(Association.name_key == name_key(name))) is not None:
        raise ValidationError(
            {
                "rename": lazy_gettext(
                    "An association named “%(name)s” already exists on this instance. Give the imported "
                    "association another name (the “new name” field, or --rename on the command line).",
                    name=name,
                )
            }
        )


def warnings_of(export: Export) -> list[str]:
    groups = {group for group, _fields in reference.activity_fields()}
    found = []
    for value in export.unknown_activity_fields:
        if value in groups:
            found.append(
                str(lazy_gettext("Activity field set aside: “%(v)s” is a group of the list, not a field.", v=value))
            )
        else:
            found.append(str(lazy_gettext("Activity field set aside: “%(v)s” is not in the list.", v=value)))
    if export.rounded_actions:
        found.append(
            str(
                lazy_gettext(
                    "Durations rounded to the minute (they had seconds): actions %(pks)s.",
                    pks=", ".join(str(pk) for pk in export.rounded_actions[:20]),
                )
            )
        )
    return found


async def import_export(
    db: AsyncSession,
    instance: Instance,
    export: Export,
    *,
    owner: User | None,
    importer: User | None,
    rename: str = "",
    handle: str = "",
    origin: OriginClient | None = None,
) -> ImportResult:
    """Write ``export`` as a new association. ``owner`` becomes its manager (optional when the file has an
    active manager); ``importer`` is who asked (None for the command line); ``origin`` asks the origin first."""
    name = " ".join((rename or export.association.name).split())
    await check_importable(db, export, name)
    has_manager = any(
        m.active and "manage_association" in next(r.permissions for r in export.roles if r.name == m.role)
        for m in export.memberships
    )
    if owner is None and not has_manager:
        raise ValidationError(
            {"owner": lazy_gettext("No active member of this association manages it: name its new manager.")}
        )
    if origin is not None:
        await origin.move_is_open(export.endpoint, export.token)
    writer = _Writer(db, instance, export, importer)
    association = await writer.association(name, handle)
    await writer.catalog()
    await writer.people(owner)
    await writer.entries()
    move = AssociationMove(
        association_id=association.id,
        origin_endpoint=export.endpoint,
        origin_token=export.token,
        origin_name=export.association.name,
        app_version=export.app_version,
        exported_at=export.exported_at,
        imported_by_id=importer.id if importer else None,
        details=writer.details(),
    )
    db.add(move)
    await db.flush()
    if association.status == AssociationStatus.PENDING:
        await tell_admins(db, instance, association)
    after = await after_figures(db, association, move)
    return ImportResult(
        association, move, figures_of_export(export), after, writer.created, writer.matched, warnings_of(export)
    )


async def tell_admins(db: AsyncSession, instance: Instance, association: Association) -> None:
    """An association imported by a user on a moderated instance waits for an admin, who is told."""
    admins = await db.scalars(select(User).where(User.is_admin.is_(True), User.is_active.is_(True)))
    for admin in admins:
        notify(
            db,
            admin,
            "association_pending",
            N_("The association %(name)s is waiting for your approval."),
            "/admin",
            data={"name": association.name},
        )


async def after_figures(db: AsyncSession, association: Association, move: AssociationMove) -> Figures:
    details = move.details or {}
    links = {int(v["id"]): k for k, v in details.get("anonymous_links", {}).items()}
    return await figures_of_association(
        db, association, links, added_user_id=details.get("owner_added"), added_role_id=details.get("role_added")
    )


async def confirm_move(db: AsyncSession, origin: OriginClient, move: AssociationMove, base_url: str) -> None:
    """Right after the import commits: confirm to the origin (on failure the worker tries again later)."""
    await attempt_confirmation(db, origin, move, base_url)


class _Writer:
    """Writes the objects of one export, keeping the new ids by natural key."""

    def __init__(self, db: AsyncSession, instance: Instance, export: Export, importer: User | None) -> None:
        self.db = db
        self.instance = instance
        self.export = export
        self.importer = importer
        self.ids: dict[str, dict[str, int]] = {"role": {}, "category": {}, "level": {}, "project": {}, "user": {}}
        self.links: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []
        self.matched: list[str] = []
        self.owner_added: int | None = None
        self.role_added: int | None = None
        self.association_id = 0
        self.name = self.handle = ""

    def details(self) -> dict[str, Any]:
        return {
            "before": figures_of_export(self.export).to_json(),
            "anonymous_links": self.links,
            "set_aside_activity_fields": self.export.unknown_activity_fields,
            "rounded_actions": self.export.rounded_actions,
            "origin_is_active": self.export.association.is_active,
            "owner_added": self.owner_added,
            "role_added": self.role_added,
            "created_users": self.created,
            "matched_users": self.matched,
        }

    async def association(self, name: str, handle: str) -> Association:
        source = self.export.association
        try:
            profile = await check_profile(
                self.db,
                name=name,
                description=source.description,
                website=source.website,
                activity_fields=source.activity_fields,
                postal_code=source.postal_code,
                has_employees=source.has_employees,
                yearly_income=source.yearly_income,
                hidden=source.hidden,
                moderate_membership=source.moderate_membership,
                moderate_entries=source.moderate_entries,
            )
        except ValidationError as error:
            fields = {("rename" if k == "name" else "file"): v for k, v in error.fields.items()}
            raise ValidationError(fields) from error
        chosen = await self._handle(handle or slug(name, "association"), explicit=bool(handle))
        settings = self.instance.settings
        approved = source.is_active and (
            self.importer is None or self.importer.is_admin or settings.association_registration != "moderated"
        )
        association = Association(
            handle=chosen,
            country=source.country,
            status=AssociationStatus.ACTIVE if approved else AssociationStatus.PENDING,
        )
        profile.apply(association)
        self.db.add(association)
        await self.db.flush()
        self.association_id, self.name, self.handle = association.id, association.name, association.handle
        return association

    async def _handle(self, wanted: str, *, explicit: bool) -> str:
        if explicit:
            if wanted.strip().lower() in PATH_WORDS:
                raise ValidationError({"handle": lazy_gettext("This handle is reserved; please choose another.")})
            return await reserve_handle(self.db, wanted, "association")
        chosen = await unique_handle(self.db, wanted, PATH_WORDS)
        return await reserve_handle(self.db, chosen, "association")

    async def catalog(self) -> None:
        aid = self.association_id
        for role in self.export.roles:
            row = Role(association_id=aid, name=role.name, description=role.description, is_default=role.is_default)
            for permission in role.permissions:
                setattr(row, permission, True)
            self.db.add(row)
            await self.db.flush()
            self.ids["role"][role.name] = row.id
        rate = self.instance.settings.default_hourly_rate
        rows: list[tuple[str, Any]] = [
            (
                "category",
                Category(association_id=aid, name=c.name, description=c.description, common_category=c.common_category),
            )
            for c in self.export.categories
        ]
        rows += [
            ("level", Level(association_id=aid, name=x.name, description=x.description, hourly_rate=rate))
            for x in self.export.levels
        ]
        rows += [
            ("project", Project(association_id=aid, name=x.name, description=x.description))
            for x in self.export.projects
        ]
        self.db.add_all([row for _kind, row in rows])
        await self.db.flush()
        for kind, row in rows:
            self.ids[kind][row.name] = row.id
        for member in self.export.anonymous:
            link = AnonymousLink(
                association_id=aid,
                token=secrets.token_urlsafe(24),
                name=member.name,
                expires_on=member.expires_on,
                is_active=member.is_active,
                last_used_at=member.last_visit,
            )
            if member.created_at is not None:
                link.created_at = member.created_at
            self.db.add(link)
            await self.db.flush()
            self.links[member.uuid] = {"id": link.id, "name": member.name}

    async def people(self, owner: User | None) -> None:
        for person in self.export.users:
            user, created = await match_or_create(self.db, person)
            self.ids["user"][person.email] = user.id
            (self.created if created else self.matched).append(user.email)
            if created:
                send_activation(self.db, self.instance, user, self.name)
            else:
                self._tell_member(user)
        aid = self.association_id
        memberships: dict[int, Membership] = {}
        for member in self.export.memberships:
            row = Membership(
                association_id=aid,
                user_id=self.ids["user"][member.email],
                role_id=self.ids["role"][member.role],
                status=MembershipStatus.ACTIVE if member.active else MembershipStatus.PENDING,
            )
            self.db.add(row)
            memberships[row.user_id] = row
        await self.db.flush()
        if owner is not None:
            await self._make_manager(owner, memberships.get(owner.id))

    def _tell_member(self, user: User) -> None:
        notify(
            self.db,
            user,
            "association_moved",
            N_("The association %(name)s moved to this instance, with your volunteer time."),
            f"/associations/{self.handle}",
            data={"name": self.name},
        )

    async def _make_manager(self, owner: User, membership: Membership | None) -> None:
        role_id = next(
            (self.ids["role"][r.name] for r in self.export.roles if "manage_association" in r.permissions), None
        )
        if role_id is None:
            default = next(r for r in reference.default_roles() if "manage_association" in r.permissions)
            taken = {r.name for r in self.export.roles}
            name = default.name if default.name not in taken else f"{default.name} (2)"
            role = Role(association_id=self.association_id, name=name)
            for permission in default.permissions:
                setattr(role, permission, True)
            self.db.add(role)
            await self.db.flush()
            role_id = self.role_added = role.id
        if membership is None:
            self.db.add(
                Membership(
                    association_id=self.association_id,
                    user_id=owner.id,
                    role_id=role_id,
                    status=MembershipStatus.ACTIVE,
                )
            )
            self.owner_added = owner.id
        else:
            membership.role_id = role_id
            membership.status = MembershipStatus.ACTIVE
        await self.db.flush()

    async def entries(self) -> None:
        names = {link["id"]: link["name"] for link in self.links.values()}
        rows = []
        for action in self.export.actions:
            link_id = self.links[action.anonymous]["id"] if action.anonymous else None
            rows.append(
                {
                    "association_id": self.association_id,
                    "user_id": self.ids["user"][action.email] if action.email else None,
                    "anonymous_link_id": link_id,
                    "participant_name": names[link_id] if link_id else "",
                    "category_id": self.ids["category"][action.category],
                    "level_id": self.ids["level"][action.level] if action.level else None,
                    "project_id": self.ids["project"][action.project] if action.project else None,
                    "start_date": action.start_date,
                    "end_date": action.end_date,
                    "duration_minutes": action.minutes,
                    "distance_km": action.distance_km,
                    "title": action.title,
                    "description": action.description,
                    "status": EntryStatus.APPROVED if action.approved else EntryStatus.PENDING,
                }
            )
        for start in range(0, len(rows), ENTRY_BATCH):
            await self.db.execute(insert(TimeEntry), rows[start : start + ENTRY_BATCH])
