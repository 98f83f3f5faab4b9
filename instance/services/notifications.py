"""Notifications: a row in the person's in-app list and, unless they opted out, a mail."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from instance.i18n import gettext, language
from instance.mail import queue_mail
from instance.models import Notification, User


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
    notification = Notification(user_id=user.id, kind=kind, data={"text": text, **params}, link=link)
    db.add(notification)
    if mail_subject:
        with language(user.language or "fr"):
            queue_mail(db, user.email, gettext(mail_subject, **params), gettext(mail_body, **params))
    return notification
