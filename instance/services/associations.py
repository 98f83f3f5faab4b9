"""Associations: creation (with their default roles and categories), profile, settings and approval."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance import reference
from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import (
    Association,
    AssociationStatus,
    Category,
    Membership,
    MembershipStatus,
    Role,
    User,
)
from instance.services.handles import reserve_handle
from instance.settings import Settings


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


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
) -> Association:
    """Create an association with ``owner`` as its manager, its default roles and a copy of the default
    categories. It waits for the admin's approval when the instance moderates associations, unless
    ``approved`` says otherwise (the CLI and admins create approved ones). Flushes; the caller commits.
    """
    errors: dict[str, object] = {}
    name = " ".join(name.split())
    if not name:
        errors["name"] = lazy_gettext("Please give the association's name.")
    elif len(name) > 150:
        errors["name"] = lazy_gettext("The name can have at most 150 characters.")
    elif await db.scalar(select(Association.id).where(Association.name_key == name_key(name))) is not None:
        errors["name"] = lazy_gettext("An association with this name already exists on this instance.")
    try:
        handle = await reserve_handle(db, handle, "association")
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError(errors)
    if approved is None:
        approved = owner.is_admin or settings.association_registration != "moderated"
    association = Association(
        handle=handle,
        name=name,
        name_key=name_key(name),
        description=description.strip(),
        moderate_membership=moderate_membership,
        moderate_entries=moderate_entries,
        status=AssociationStatus.ACTIVE if approved else AssociationStatus.PENDING,
    )
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
        db.add(Category(association_id=association.id, name=common.fr, common_category=common.code))
    await db.flush()
    assert manager_role is not None, "the reference roles must include one that manages the association"
    db.add(
        Membership(
            association_id=association.id, user_id=owner.id, role_id=manager_role.id, status=MembershipStatus.ACTIVE
        )
    )
    await db.flush()
    return association
