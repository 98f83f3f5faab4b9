"""Announcements from the admins: a banner on the pages of their audience until dismissed or expired, and/or
a notification (in the app and by mail) to every person of the audience when published."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import NotFound, ValidationError
from instance.i18n import N_, lazy_gettext
from instance.models import Announcement, Audience, Membership, MembershipStatus, Role, User, utcnow
from instance.services.admin_users import require_admin
from instance.services.notifications import notify

MAX_TITLE = 200
MAX_BODY = 5000
LIST_SIZE = 50


def _expiry(value: str, errors: dict[str, object]) -> dt.datetime | None:
    """``YYYY-MM-DD`` → the end of that day (UTC); empty → never."""
    if not value.strip():
        return None
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        errors["expires_on"] = lazy_gettext("Please give a date such as 2025-12-31.")
        return None
    expires = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    if expires <= utcnow():
        errors["expires_on"] = lazy_gettext("Please give a date that is not past.")
    return expires


async def publish(
    db: AsyncSession,
    admin: User,
    *,
    title: str,
    body: str,
    audience: str,
    banner: bool,
    notify_people: bool,
    expires_on: str = "",
    link: str = "",
) -> Announcement:
    """Check and publish; with ``notify_people``, each person of the audience gets a notification (and a mail
    unless they chose otherwise). ``link`` is the page the notification points to. Flushes; caller commits."""
    require_admin(admin)
    errors: dict[str, object] = {}
    title, body = " ".join(title.split()), body.strip()
    if not title:
        errors["title"] = lazy_gettext("Please give a title.")
    elif len(title) > MAX_TITLE:
        errors["title"] = lazy_gettext("Use at most %(n)s characters.", n=MAX_TITLE)
    if len(body) > MAX_BODY:
        errors["body"] = lazy_gettext("Use at most %(n)s characters.", n=MAX_BODY)
    if audience not in {a.value for a in Audience}:
        errors["audience"] = lazy_gettext("Please choose one of the proposed values.")
    if not banner and not notify_people:
        errors["banner"] = lazy_gettext("Show it as a banner, send it as a notification, or both.")
    expires_at = _expiry(expires_on, errors)
    if errors:
        raise ValidationError(errors)
    announcement = Announcement(
        title=title,
        body=body,
        audience=Audience(audience),
        banner=banner,
        notified=notify_people,
        created_by_id=admin.id,
        expires_at=expires_at,
    )
    db.add(announcement)
    await db.flush()
    if notify_people:
        for person in await audience_members(db, announcement.audience):
            notify(
                db,
                person,
                "announcement",
                N_("Announcement: %(title)s"),
                link,
                mail_subject=N_("Announcement: %(title)s"),
                mail_body=N_("%(body)s\n\n%(link)s\n"),
                data={"title": title, "body": body, "link": link},
            )
    return announcement


def _manager_ids() -> Select[int]:
    return (
        select(Membership.user_id)
        .join(Role, Role.id == Membership.role_id)
        .where(Membership.status == MembershipStatus.ACTIVE, Role.manage_association.is_(True))
    )


async def audience_members(db: AsyncSession, audience: Audience) -> list[User]:
    """The accounts an announcement to ``audience`` is sent to (active, not suspended)."""
    query = select(User).where(User.is_active.is_(True), User.is_suspended.is_(False), User.actor_uri.is_(None))
    if audience == Audience.MANAGERS:
        query = query.where(User.id.in_(_manager_ids()))
    return list(await db.scalars(query.order_by(User.id)))


async def manages_something(db: AsyncSession, user_id: int) -> bool:
    return await db.scalar(_manager_ids().where(Membership.user_id == user_id).limit(1)) is not None


async def current_banners(db: AsyncSession) -> list[Announcement]:
    """Banners not expired, newest first, whatever their audience."""
    now = utcnow()
    query = (
        select(Announcement)
        .where(Announcement.banner.is_(True), or_(Announcement.expires_at.is_(None), Announcement.expires_at > now))
        .order_by(Announcement.created_at.desc(), Announcement.id.desc())
        .limit(10)
    )
    return list(await db.scalars(query))


def shown_to(announcement: Announcement, user: User | None, is_manager: bool) -> bool:
    if announcement.audience == Audience.EVERYONE:
        return True
    if user is None:
        return False
    return announcement.audience == Audience.USERS or is_manager


async def all_announcements(db: AsyncSession, admin: User) -> list[Announcement]:
    require_admin(admin)
    query = select(Announcement).order_by(Announcement.created_at.desc(), Announcement.id.desc()).limit(LIST_SIZE)
    return list(await db.scalars(query))


async def end(db: AsyncSession, admin: User, announcement_id: int) -> Announcement:
    """Stop showing a banner now (the notifications already sent stay)."""
    require_admin(admin)
    announcement = await db.get(Announcement, announcement_id)
    if announcement is None:
        raise NotFound(lazy_gettext("This announcement does not exist."))
    now = utcnow()
    if announcement.expires_at is None or announcement.expires_at > now:
        announcement.expires_at = now
    await db.flush()
    return announcement


def is_current(announcement: Announcement) -> bool:
    return announcement.banner and (announcement.expires_at is None or announcement.expires_at > utcnow())
