"""Associations: creation (with their default roles and categories), profile, settings and the directory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance import reference
from instance.errors import PermissionDenied, ValidationError
from instance.events import AssociationChanged, publish
from instance.i18n import N_, lazy_gettext
from instance.models import (
    Association,
    AssociationStatus,
    Category,
    Level,
    Membership,
    MembershipStatus,
    Role,
    User,
)
from instance.services.access import require_permission
from instance.services.handles import normalise_handle, reserve_handle
from instance.services.instance_settings import effective
from instance.services.notifications import notify
from instance.settings import Settings

PAGE_SIZE = 20
MAX_DESCRIPTION = 5000
# Words used in association paths (``/associations/new``) that no association may take as its handle.
PATH_WORDS = frozenset({"new"})


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Profile:
    """The checked values of an association's profile and settings, ready to be set on the row."""

    name: str
    description: str
    website: str
    activity_fields: list[str]
    postal_code: str
    has_employees: bool
    yearly_income: int | None
    hidden: bool
    moderate_membership: bool
    moderate_entries: bool

    def apply(self, association: Association) -> None:
        for key, value in self.__dict__.items():
            setattr(association, key, value)
        association.name_key = name_key(self.name)


def _check_website(value: str, errors: dict[str, object]) -> str:
    website = value.strip()
    if not website:
        return ""
    parts = urlsplit(website)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or " " in website:
        errors["website"] = lazy_gettext("Give a web address starting with https:// or http://.")
    elif len(website) > 300:
        errors["website"] = lazy_gettext("The web address can have at most 300 characters.")
    return website


def _check_income(value: str | int | None, errors: dict[str, object]) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        income = int(str(value).strip().replace(" ", "").replace("\u202f", ""))
    except ValueError:
        errors["yearly_income"] = lazy_gettext("Give a whole number of euros, or leave this empty.")
        return None
    if income < 0 or income > 10**12:
        errors["yearly_income"] = lazy_gettext("The yearly income must be a positive whole number of euros.")
        return None
    return income


def _check_fields(values: Sequence[str], errors: dict[str, object]) -> list[str]:
    known = reference.all_activity_fields()
    chosen = list(dict.fromkeys(v for v in values if v))
    if any(v not in known for v in chosen):
        errors["activity_fields"] = lazy_gettext("Choose activity fields from the list only.")
    return chosen


async def check_profile(
    db: AsyncSession,
    *,
    name: str,
    description: str = "",
    website: str = "",
    activity_fields: Sequence[str] = (),
    postal_code: str = "",
    has_employees: bool = False,
    yearly_income: str | int | None = None,
    hidden: bool = False,
    moderate_membership: bool = False,
    moderate_entries: bool = True,
    current: Association | None = None,
    errors: dict[str, object] | None = None,
) -> Profile:
    """Check what was typed for a profile; ValidationError with every problem (and ``errors``) if any."""
    errors = dict(errors or {})
    name = " ".join(name.split())
    if not name:
        errors["name"] = lazy_gettext("Please give the association's name.")
    elif len(name) > 150:
        errors["name"] = lazy_gettext("The name can have at most 150 characters.")
    else:
        query = select(Association.id).where(Association.name_key == name_key(name))
        if current is not None:
            query = query.where(Association.id != current.id)
        if await db.scalar(query) is not None:
            errors["name"] = lazy_gettext("An association with this name already exists on this instance.")
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = lazy_gettext("The description can have at most 5000 characters.")
    postal_code = " ".join(postal_code.split())
    if len(postal_code) > 10 or not all(c.isalnum() or c in " -" for c in postal_code):
        errors["postal_code"] = lazy_gettext("Give a postal code of at most 10 letters or digits.")
    profile = Profile(
        name=name,
        description=description,
        website=_check_website(website, errors),
        activity_fields=_check_fields(activity_fields, errors),
        postal_code=postal_code,
        has_employees=has_employees,
        yearly_income=_check_income(yearly_income, errors),
        hidden=hidden,
        moderate_membership=moderate_membership,
        moderate_entries=moderate_entries,
    )
    if errors:
        raise ValidationError(errors)
    return profile


async def create_association(
    db: AsyncSession,
    settings: Settings,
    owner: User,
    *,
    handle: str,
    name: str,
    description: str = "",
    moderate_membership: bool = False,
    moderate_entries: bool = True,
    approved: bool | None = None,
    **profile: Any,
) -> Association:
    """Create an association with ``owner`` as its manager, its default roles and a copy of the default
    categories. It waits for the admin's approval when the instance moderates associations, unless
    ``approved`` says otherwise (the CLI and admins create approved ones). ``profile`` takes the other
    fields of ``check_profile`` (website, activity_fields, postal_code, ...). Flushes; the caller commits.
    """
    site = await effective(db, settings)  # the admins' settings: registration policy, default catalog
    settings = site.settings
    errors: dict[str, object] = {}
    if normalise_handle(handle) in PATH_WORDS:
        errors["handle"] = lazy_gettext("This handle is reserved; please choose another.")
    else:
        try:
            handle = await reserve_handle(db, handle, "association")
        except ValidationError as error:
            errors.update(error.fields)
    checked = await check_profile(
        db,
        name=name,
        description=description,
        moderate_membership=moderate_membership,
        moderate_entries=moderate_entries,
        errors=errors,
        **profile,
    )
    if approved is None:
        approved = owner.is_admin or settings.association_registration != "moderated"
    association = Association(handle=handle, status=AssociationStatus.ACTIVE if approved else AssociationStatus.PENDING)
    checked.apply(association)
    db.add(association)
    await db.flush()
    manager_role = None
    for default in reference.default_roles():
        role = Role(association_id=association.id, name=default.name, is_default=default.is_default)
        for permission in default.permissions:
            setattr(role, permission, True)
        db.add(role)
        if role.manage_association:
            manager_role = role
    for common in reference.common_categories():
        if common.code in site.default_categories:
            db.add(Category(association_id=association.id, name=common.fr, common_category=common.code))
    for level in site.default_levels:
        rate = settings.default_hourly_rate if level.hourly_rate is None else level.hourly_rate
        db.add(Level(association_id=association.id, name=level.name, hourly_rate=rate))
    await db.flush()
    assert manager_role is not None, "the reference roles must include one that manages the association"
    db.add(
        Membership(
            association_id=association.id, user_id=owner.id, role_id=manager_role.id, status=MembershipStatus.ACTIVE
        )
    )
    await db.flush()
    return association


def may_register(settings: Settings, user: User) -> bool:
    """Whether ``user`` may create an association under the instance's registration policy."""
    return user.is_admin or settings.association_registration != "closed"


async def register_association(
    db: AsyncSession, settings: Settings, owner: User, *, handle: str, name: str, **profile: Any
) -> Association:
    """Create an association from the public form: the registration policy applies, and the instance's
    admins are told when it waits for their approval. Flushes; the caller commits."""
    settings = (await effective(db, settings)).settings
    if not may_register(settings, owner):
        raise PermissionDenied(lazy_gettext("On this instance, only administrators can create associations."))
    association = await create_association(db, settings, owner, handle=handle, name=name, **profile)
    if association.status == AssociationStatus.PENDING:
        admins = await db.scalars(select(User).where(User.is_admin.is_(True), User.is_active.is_(True)))
        for admin in admins:
            notify(
                db,
                admin,
                "association_pending",
                N_("The association %(name)s is waiting for your approval."),
                "/admin",
                mail_subject=N_("New association to approve: %(name)s"),
                mail_body=N_(
                    "%(owner)s created the association %(name)s (@%(handle)s).\n\n"
                    "Approve or refuse it on the administration page:\n%(link)s\n"
                ),
                data={
                    "name": association.name,
                    "handle": association.handle,
                    "owner": owner.public_name,
                    "link": settings.base_url.rstrip("/") + "/admin",
                },
            )
    return association


async def update_association(
    db: AsyncSession, actor: User | None, association: Association, **values: Any
) -> Association:
    """Change the profile and settings (all fields of ``check_profile``); needs ``manage_association``."""
    await require_permission(db, actor, association, "manage_association")
    profile = await check_profile(db, current=association, **values)
    profile.apply(association)
    await db.flush()
    await publish(db, AssociationChanged(association.id))
    return association


async def member_count(db: AsyncSession, association: Association) -> int:
    count = await db.scalar(
        select(func.count(Membership.id)).where(
            Membership.association_id == association.id, Membership.status == MembershipStatus.ACTIVE
        )
    )
    return int(count or 0)


@dataclass(frozen=True)
class DirectoryPage:
    associations: list[Association]
    page: int
    pages: int
    total: int


async def directory(db: AsyncSession, viewer: User | None, q: str = "", page: int = 1) -> DirectoryPage:
    """Active associations matching ``q`` (name, handle, description, postal code), by name, paginated.

    Hidden ones are listed only for their members.
    """
    condition = directory_condition(viewer, q)
    total = int(await db.scalar(select(func.count(Association.id)).where(condition)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = await db.scalars(
        select(Association)
        .where(condition)
        .order_by(Association.name_key)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return DirectoryPage(list(rows), page, pages, total)


def directory_condition(viewer: User | None, q: str = "") -> ColumnElement[bool]:
    """Which associations the directory lists for ``viewer``, searched with the words of ``q``."""
    visible: ColumnElement[bool] = Association.hidden.is_(False)
    if viewer is not None:
        mine = select(Membership.association_id).where(Membership.user_id == viewer.id)
        visible = or_(visible, Association.id.in_(mine))
    condition = (Association.status == AssociationStatus.ACTIVE) & visible & Association.actor_uri.is_(None)
    words = q.split()[:8]
    for word in words:
        condition &= or_(
            Association.name.icontains(word, autoescape=True),
            Association.handle.icontains(word, autoescape=True),
            Association.description.icontains(word, autoescape=True),
            Association.postal_code.icontains(word, autoescape=True),
        )
    return condition
