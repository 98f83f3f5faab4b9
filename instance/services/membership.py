"""Membership: joining, the managers' decisions, roles given to members, removal and leaving."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import Conflict, NotFound, PermissionDenied, ValidationError
from instance.events import MembershipDecided, MembershipLeft, MembershipRequested, publish
from instance.i18n import N_, lazy_gettext
from instance.models import Association, AssociationStatus, Membership, MembershipStatus, Role, User, utcnow
from instance.services.access import membership_of, require_permission
from instance.services.notifications import notify
from instance.services.roles import default_role, ensure_a_manager_remains, may_grant, role_in
from instance.settings import Settings

MAX_MESSAGE = 2000


def _link(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


async def members_of(
    db: AsyncSession, association: Association, status: MembershipStatus | None = None
) -> list[Membership]:
    query = select(Membership).where(Membership.association_id == association.id)
    if status is not None:
        query = query.where(Membership.status == status)
    return list(await db.scalars(query.order_by(Membership.created_at, Membership.id)))


async def list_members(db: AsyncSession, actor: User | None, association: Association) -> list[Membership]:
    """Every membership (pending and active), for those whose role lets them list members."""
    await require_permission(db, actor, association, "list_members")
    return await members_of(db, association)


async def pending_requests(db: AsyncSession, actor: User | None, association: Association) -> list[Membership]:
    await require_permission(db, actor, association, "manage_members")
    return await members_of(db, association, MembershipStatus.PENDING)


async def memberships_of_user(db: AsyncSession, user: User) -> list[Membership]:
    """The person's memberships, pending and active, by association name (for their own page)."""
    rows = await db.scalars(
        select(Membership)
        .join(Association, Association.id == Membership.association_id)
        .where(Membership.user_id == user.id)
        .order_by(Association.name_key)
    )
    return list(rows)


async def _managers(db: AsyncSession, association: Association, permission: str) -> list[User]:
    members = await members_of(db, association, MembershipStatus.ACTIVE)
    return [m.user for m in members if m.role.allows(permission)]


async def join(
    db: AsyncSession, settings: Settings, user: User, association: Association, message: str = ""
) -> Membership:
    """Ask to join (pending when the association moderates membership) or join at once with the default role."""
    if association.status != AssociationStatus.ACTIVE:
        raise Conflict(lazy_gettext("This association is not open yet: it waits for the administrators' approval."))
    if await membership_of(db, user, association) is not None:
        raise Conflict(lazy_gettext("You are already a member of this association or have asked to join it."))
    message = message.strip()
    if len(message) > MAX_MESSAGE:
        raise ValidationError({"message": lazy_gettext("The message can have at most 2000 characters.")})
    pending = association.moderate_membership or association.is_remote  # a remote one answers over federation
    role = await default_role(db, association)
    membership = Membership(
        association_id=association.id,
        user_id=user.id,
        role=role,
        status=MembershipStatus.PENDING if pending else MembershipStatus.ACTIVE,
        message=message,
        decided_at=None if pending else utcnow(),
    )
    db.add(membership)
    await db.flush()
    if association.is_remote:
        await publish(db, MembershipRequested(membership.id))
    elif pending:
        path = f"/associations/{association.handle}/members"
        for manager in await _managers(db, association, "manage_members"):
            notify(
                db,
                manager,
                "membership_pending",
                N_("%(person)s asks to join %(name)s."),
                path,
                mail_subject=N_("%(person)s asks to join %(name)s"),
                mail_body=N_("%(person)s asks to join %(name)s.\n\nAccept or refuse the request here:\n%(link)s\n"),
                data={"person": user.public_name, "name": association.name, "link": _link(settings, path)},
            )
    return membership


async def membership_in(db: AsyncSession, association: Association, membership_id: int | str) -> Membership:
    try:
        key = int(membership_id)
    except (TypeError, ValueError):
        key = 0
    membership = await db.scalar(
        select(Membership).where(Membership.id == key, Membership.association_id == association.id)
    )
    if membership is None:
        raise NotFound(lazy_gettext("This person is not a member of this association."))
    return membership


async def _manager_acting_on(
    db: AsyncSession, actor: User | None, association: Association, target: Membership, new_role: Role | None = None
) -> Membership:
    """The actor's membership if they may manage members and act on ``target`` (and give ``new_role``)."""
    mine = await require_permission(db, actor, association, "manage_members")
    if not may_grant(mine.role, target.role) or (new_role is not None and not may_grant(mine.role, new_role)):
        raise PermissionDenied(lazy_gettext("You can only manage members whose role has no more rights than yours."))
    return mine


async def approve(
    db: AsyncSession,
    settings: Settings,
    actor: User | None,
    association: Association,
    membership: Membership,
    role_id: int | str | None = None,
) -> Membership:
    """Accept a pending request with the chosen role (the default one when none is chosen)."""
    role = await role_in(db, association, role_id) if role_id else await default_role(db, association)
    await _manager_acting_on(db, actor, association, membership, role)
    if membership.status != MembershipStatus.PENDING:
        raise Conflict(lazy_gettext("This request has already been answered."))
    membership.role = role
    membership.status = MembershipStatus.ACTIVE
    membership.decided_at = utcnow()
    await _tell_remote(db, association, membership, accepted=True)
    path = f"/associations/{association.handle}"
    notify(
        db,
        membership.user,
        "membership_approved",
        N_("You are now a member of %(name)s."),
        path,
        mail_subject=N_("Welcome to %(name)s"),
        mail_body=N_("Your request to join %(name)s has been accepted.\n\n%(link)s\n"),
        data={"name": association.name, "link": _link(settings, path)},
    )
    await db.flush()
    return membership


async def refuse(
    db: AsyncSession, settings: Settings, actor: User | None, association: Association, membership: Membership
) -> None:
    """Refuse a pending request: the membership row goes away and the person is told."""
    await _manager_acting_on(db, actor, association, membership)
    if membership.status != MembershipStatus.PENDING:
        raise Conflict(lazy_gettext("This request has already been answered."))
    person = membership.user
    await _tell_remote(db, association, membership, accepted=False)
    await db.delete(membership)
    path = f"/associations/{association.handle}"
    notify(
        db,
        person,
        "membership_refused",
        N_("Your request to join %(name)s was not accepted."),
        path,
        mail_subject=N_("Your request to join %(name)s"),
        mail_body=N_("Your request to join %(name)s was not accepted.\n\n%(link)s\n"),
        data={"name": association.name, "link": _link(settings, path)},
    )
    await db.flush()


async def change_role(
    db: AsyncSession, actor: User | None, association: Association, membership: Membership, role_id: int | str
) -> Membership:
    role = await role_in(db, association, role_id)
    await _manager_acting_on(db, actor, association, membership, role)
    if membership.status == MembershipStatus.ACTIVE and not role.manage_association:
        await ensure_a_manager_remains(db, association, moving=(membership, role))
    membership.role = role
    await db.flush()
    return membership


async def remove(db: AsyncSession, actor: User | None, association: Association, membership: Membership) -> None:
    """Remove a member; the entries they logged stay with the association."""
    await _manager_acting_on(db, actor, association, membership)
    await ensure_a_manager_remains(db, association, removing=membership)
    await _tell_remote(db, association, membership, accepted=False)
    await db.delete(membership)
    await db.flush()


async def leave(db: AsyncSession, user: User, association: Association) -> None:
    """Leave an association (or withdraw a pending request); the last manager cannot."""
    membership = await membership_of(db, user, association)
    if membership is None:
        raise NotFound(lazy_gettext("You are not a member of this association."))
    if not association.is_remote:  # the managers of a remote association are on its instance
        await ensure_a_manager_remains(db, association, removing=membership)
    await db.delete(membership)
    await db.flush()
    if association.is_remote:
        await publish(db, MembershipLeft(association.id, user.id))


async def _tell_remote(db: AsyncSession, association: Association, membership: Membership, accepted: bool) -> None:
    """A person of another server is told of the decision (or of their removal) through federation."""
    if membership.user.is_remote:
        await publish(db, MembershipDecided(association.id, membership.user_id, accepted))
