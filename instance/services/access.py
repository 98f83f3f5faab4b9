"""Who may see and do what in an association: the one place where memberships and roles are checked."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import NotFound, PermissionDenied
from instance.i18n import lazy_gettext
from instance.models import Association, AssociationStatus, Membership, MembershipStatus, User


async def membership_of(db: AsyncSession, user: User | None, association: Association) -> Membership | None:
    """The person's membership (pending or active) in the association, if any."""
    if user is None:
        return None
    return await db.scalar(
        select(Membership).where(Membership.association_id == association.id, Membership.user_id == user.id)
    )


async def active_membership(db: AsyncSession, user: User | None, association: Association) -> Membership | None:
    membership = await membership_of(db, user, association)
    return membership if membership is not None and membership.status == MembershipStatus.ACTIVE else None


async def visible_association(db: AsyncSession, handle: str, viewer: User | None) -> Association:
    """The association with this handle as ``viewer`` may see it, or NotFound.

    Hidden associations are seen only by their members; associations awaiting the admin's approval (or
    refused) only by their members and the instance's admins. Others get the same answer as for a missing one.
    """
    association = await db.scalar(select(Association).where(Association.handle == handle.lower()))
    if association is None:
        raise NotFound(lazy_gettext("There is no association here with this address."))
    if association.hidden or association.status != AssociationStatus.ACTIVE:
        is_admin = viewer is not None and viewer.is_admin and association.status != AssociationStatus.ACTIVE
        if not is_admin and await membership_of(db, viewer, association) is None:
            raise NotFound(lazy_gettext("There is no association here with this address."))
    return association


async def require_permission(
    db: AsyncSession, user: User | None, association: Association, permission: str
) -> Membership:
    """The person's active membership if its role grants ``permission``; PermissionDenied otherwise.

    Nobody here manages an association of another instance: its own instance does."""
    membership = await active_membership(db, user, association)
    if membership is None or association.is_remote or not membership.role.allows(permission):
        raise PermissionDenied(lazy_gettext("Your role in this association does not allow this."))
    return membership


async def require_member(db: AsyncSession, user: User | None, association: Association) -> Membership:
    membership = await active_membership(db, user, association)
    if membership is None:
        raise PermissionDenied(lazy_gettext("Only members of this association can do this."))
    return membership
