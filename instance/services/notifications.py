"""Notifications: a row in the person's in-app list and, unless they opted out, a mail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from instance.i18n import gettext, language
from instance.mail import queue_mail
from instance.models import Notification, User, utcnow


def notify(
    db: AsyncSession,
    user: User,
    kind: str,
    text: str,
    link: str = "",
    *,
    mail_subject: str = "",
    mail_body: str = "",
    data: dict[str, object] | None = None,
) -> Notification:
    """Record ``text`` for ``user`` (shown in their list) and queue a mail when a subject is given.

    ``text``, ``mail_subject`` and ``mail_body`` are English message ids, translated here into the
    recipient's language; ``data`` fills their ``%(name)s`` placeholders.
    """
    params = dict(data or {})
    if user.is_remote:  # a person of another server hears of it through federation, not here
        return Notification(user_id=user.id, kind=kind, data={"text": text, **params}, link=link)
    notification = Notification(user_id=user.id, kind=kind, data={"text": text, **params}, link=link)
    db.add(notification)
    if mail_subject:
        with language(user.language or "fr"):
            queue_mail(db, user.email, gettext(mail_subject, **params), gettext(mail_body, **params))
    return notification


PAGE_SIZE = 30


def text_of(notification: Notification) -> str:
    """The notification's text in the current language, its placeholders filled."""
    data = dict(notification.data or {})
    message = str(data.pop("text", ""))
    try:
        return gettext(message, **data) if data else gettext(message)
    except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder: show the message id
        return message


async def unread_count(db: AsyncSession, user_id: int) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int(count or 0)


async def recent(db: AsyncSession, user: User, page: int = 1) -> tuple[Sequence[Notification], bool]:
    """One page of the person's notifications, newest first, and whether an older page exists."""
    page = max(1, page)
    rows = list(
        await db.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(PAGE_SIZE + 1)
            .offset((page - 1) * PAGE_SIZE)
        )
    )
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def notifications_query(user: User, unread_only: bool = False) -> Select[Any]:
    """The person's notifications (unordered), or only those not read yet."""
    query = select(Notification).where(Notification.user_id == user.id)
    return query.where(Notification.read_at.is_(None)) if unread_only else query


async def mark_read(db: AsyncSession, user: User, ids: Sequence[int] | None = None) -> int:
    """Mark the person's notifications with these ids (all when None) as read; how many were unread."""
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    result = await db.execute(query.values(read_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_all_read(db: AsyncSession, user: User) -> None:
    await db.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
