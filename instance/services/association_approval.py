"""The instance admins' decision on associations created while registration is moderated."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import Conflict, NotFound, PermissionDenied, ValidationError
from instance.i18n import N_, lazy_gettext
from instance.models import Association, AssociationStatus, MembershipStatus, User
from instance.services.membership import members_of
from instance.services.notifications import notify
from instance.settings import Settings


def _require_admin(user: User | None) -> User:
    if user is None or not user.is_admin:
        raise PermissionDenied(lazy_gettext("This page is for the instance's administrators."))
    return user


async def awaiting_approval(db: AsyncSession, admin: User | None) -> list[Association]:
    _require_admin(admin)
    rows = await db.scalars(
        select(Association).where(Association.status == AssociationStatus.PENDING).order_by(Association.created_at)
    )
    return list(rows)


async def _pending(db: AsyncSession, association_id: int | str) -> Association:
    try:
        key = int(association_id)
    except (TypeError, ValueError):
        key = 0
    association = await db.get(Association, key)
    if association is None:
        raise NotFound(lazy_gettext("There is no association here with this address."))
    if association.status != AssociationStatus.PENDING:
        raise Conflict(lazy_gettext("This association has already been approved or refused."))
    return association


async def _tell_managers(
    db: AsyncSession, settings: Settings, association: Association, kind: str, text: str, body: str, message: str
) -> None:
    path = f"/associations/{association.handle}"
    for member in await members_of(db, association, MembershipStatus.ACTIVE):
        if member.role.manage_association:
            notify(
                db,
                member.user,
                kind,
                text,
                path,
                mail_subject=text,
                mail_body=body,
                data={
                    "name": association.name,
                    "note": message or "-",
                    "link": settings.base_url.rstrip("/") + path,
                },
            )


async def approve_association(
    db: AsyncSession, settings: Settings, admin: User | None, association_id: int | str, message: str = ""
) -> Association:
    """Open a pending association; its managers are told, with the admin's message if any."""
    _require_admin(admin)
    association = await _pending(db, association_id)
    association.status = AssociationStatus.ACTIVE
    association.status_message = message.strip()
    await _tell_managers(
        db,
        settings,
        association,
        "association_approved",
        N_("The association %(name)s has been approved."),
        N_("The association %(name)s has been approved and is now open.\n\nMessage: %(note)s\n\n%(link)s\n"),
        association.status_message,
    )
    await db.flush()
    return association


async def refuse_association(
    db: AsyncSession, settings: Settings, admin: User | None, association_id: int | str, reason: str
) -> Association:
    """Refuse a pending association with a reason; it stays visible to its members only, with the reason."""
    _require_admin(admin)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": lazy_gettext("Please give the reason, so that the creator understands.")})
    association = await _pending(db, association_id)
    association.status = AssociationStatus.REFUSED
    association.status_message = reason
    await _tell_managers(
        db,
        settings,
        association,
        "association_refused",
        N_("The association %(name)s has been refused."),
        N_("The administrators refused the association %(name)s.\n\nReason: %(note)s\n\n%(link)s\n"),
        reason,
    )
    await db.flush()
    return association
