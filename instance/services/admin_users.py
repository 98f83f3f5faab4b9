"""The admins' view of the accounts: search, suspend, delete, make admin; and the dashboard's counts.

Every action checks that the actor is an admin and refuses what would lock the instance: no admin suspends,
deletes or demotes themself into an instance without admin, and an account that is the last manager of an
association is not deleted (the same rule as when people delete their own account).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import NotFound, PermissionDenied, ValidationError
from instance.i18n import lazy_gettext
from instance.models import (
    Association,
    AssociationStatus,
    Flag,
    FlagState,
    MailState,
    Membership,
    OutgoingMail,
    TimeEntry,
    User,
)
from instance.services.account_settings import FORMER_MEMBER, sole_managed_associations

PAGE_SIZE = 25

LOCAL_USER = User.actor_uri.is_(None)  # people of other servers who joined an association here are not accounts


def require_admin(actor: User | None) -> User:
    if actor is None or not actor.is_admin:
        raise PermissionDenied(lazy_gettext("This page is for the instance's administrators."))
    return actor


@dataclass(frozen=True)
class UsersPage:
    users: list[User]
    page: int
    pages: int
    total: int


async def search_users(db: AsyncSession, admin: User, q: str = "", page: int = 1) -> UsersPage:
    """Accounts whose email, handle, name or pseudonym contain every word of ``q``, newest first."""
    require_admin(admin)
    condition: ColumnElement[bool] = LOCAL_USER
    for word in q.split()[:8]:
        condition &= or_(
            User.email.icontains(word, autoescape=True),
            User.handle.icontains(word, autoescape=True),
            User.display_name.icontains(word, autoescape=True),
            User.pseudonym.icontains(word, autoescape=True),
        )
    total = int(await db.scalar(select(func.count(User.id)).where(condition)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    query = (
        select(User)
        .where(condition)
        .order_by(User.created_at.desc(), User.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return UsersPage(list(await db.scalars(query)), page, pages, total)


async def _target(db: AsyncSession, admin: User, user_id: int) -> User:
    require_admin(admin)
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound(lazy_gettext("This account does not exist."))
    return user


async def _other_admins(db: AsyncSession, user: User) -> int:
    """How many admins who can act (active, not suspended) there are besides ``user``."""
    count = await db.scalar(
        select(func.count(User.id)).where(
            User.is_admin.is_(True),
            User.is_active.is_(True),
            User.is_suspended.is_(False),
            User.id != user.id,
        )
    )
    return int(count or 0)


async def set_suspended(db: AsyncSession, admin: User, user_id: int, suspended: bool) -> User:
    """Suspend (their sessions end, they cannot log in) or reinstate an account; never one's own."""
    user = await _target(db, admin, user_id)
    if user.id == admin.id:
        raise ValidationError(message=lazy_gettext("You cannot suspend your own account."))
    if suspended and user.is_admin and not await _other_admins(db, user):
        raise ValidationError(message=lazy_gettext("The instance would have no administrator left."))
    user.is_suspended = suspended
    await db.flush()
    return user


async def set_admin(db: AsyncSession, admin: User, user_id: int, make_admin: bool) -> User:
    """Give or take the admin right; the instance always keeps at least one admin who can act."""
    user = await _target(db, admin, user_id)
    if not make_admin and user.is_admin and not await _other_admins(db, user):
        raise ValidationError(message=lazy_gettext("The instance would have no administrator left."))
    if make_admin and (user.is_suspended or not user.is_active):
        raise ValidationError(message=lazy_gettext("Only an active account that is not suspended can be an admin."))
    user.is_admin = make_admin
    await db.flush()
    return user


async def delete_user(db: AsyncSession, admin: User, user_id: int) -> str:
    """Delete an account as its owner could: not the last manager of an association, never one's own here
    (people delete their own account from their profile). Returns the deleted account's name."""
    user = await _target(db, admin, user_id)
    if user.id == admin.id:
        raise ValidationError(message=lazy_gettext("Delete your own account from your profile page."))
    if user.is_admin and not await _other_admins(db, user):
        raise ValidationError(message=lazy_gettext("The instance would have no administrator left."))
    alone = await sole_managed_associations(db, user)
    if alone:
        names = ", ".join(association.name for association in alone)
        raise ValidationError(
            message=lazy_gettext(
                "This person is the last manager of %(names)s. Another member must get the manager role first.",
                names=names,
            )
        )
    name = f"{user.public_name} ({user.email})"
    await db.execute(
        update(TimeEntry).where(TimeEntry.user_id == user.id).values(user_id=None, participant_name=FORMER_MEMBER)
    )
    await db.execute(delete(Membership).where(Membership.user_id == user.id))
    await db.delete(user)
    await db.flush()
    return name


# -- the dashboard --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    users: int
    admins: int
    suspended: int
    unconfirmed: int
    associations: int
    pending_associations: int
    entries: int
    mail_waiting: int
    mail_failed: int
    open_flags: int


async def _count(db: AsyncSession, column: ColumnElement[int] | object, *where: ColumnElement[bool]) -> int:
    return int(await db.scalar(select(func.count(column)).where(*where)) or 0)  # type: ignore[arg-type]


async def dashboard_counts(db: AsyncSession, admin: User) -> Counts:
    require_admin(admin)
    return Counts(
        users=await _count(db, User.id, LOCAL_USER),
        admins=await _count(db, User.id, User.is_admin.is_(True)),
        suspended=await _count(db, User.id, User.is_suspended.is_(True)),
        unconfirmed=await _count(db, User.id, User.is_active.is_(False), User.confirmed_at.is_(None)),
        associations=await _count(
            db, Association.id, Association.status == AssociationStatus.ACTIVE, Association.actor_uri.is_(None)
        ),
        pending_associations=await _count(db, Association.id, Association.status == AssociationStatus.PENDING),
        entries=await _count(db, TimeEntry.id),
        mail_waiting=await _count(db, OutgoingMail.id, OutgoingMail.state == MailState.QUEUED),
        mail_failed=await _count(db, OutgoingMail.id, OutgoingMail.state == MailState.FAILED),
        open_flags=await _count(db, Flag.id, Flag.state == FlagState.OPEN),
    )
