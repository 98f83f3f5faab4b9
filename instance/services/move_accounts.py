"""The people of a moved association: accounts matched by email, or created inactive with an activation mail.

A created account has no password; its activation link (valid 30 days) lets its owner choose one, which also
activates the account. The link's token names a fingerprint of the password hash, so it works once (as the
password-reset links of ``accounts`` do). After 30 days, "forgot my password" does the same.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance import i18n
from instance.errors import ValidationError
from instance.i18n import gettext as _
from instance.i18n import lazy_gettext
from instance.mail import queue_mail
from instance.models import Handle, User, utcnow
from instance.runtime import Instance
from instance.services.accounts import mail_language, new_password_errors, set_password, token_user
from instance.services.benevalibre_records import ExportUser
from instance.services.handles import HANDLE_RE, RESERVED

ACTIVATION_PURPOSE = "move-activate"
ACTIVATION_MAX_AGE = 30 * 24 * 3600
HANDLE_LENGTH = 64


def slug(text: str, fallback: str) -> str:
    """A handle-shaped slug of ``text``: ASCII lowercase letters, digits and dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    value = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:HANDLE_LENGTH].strip("-")
    return value or fallback


async def unique_handle(db: AsyncSession, base: str, extra_words: frozenset[str] = frozenset()) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is free (and allowed) first."""
    candidate, number = base, 1
    while True:
        taken = await db.scalar(select(Handle.handle).where(Handle.handle == candidate))
        allowed = HANDLE_RE.match(candidate) and candidate not in RESERVED | extra_words and not candidate.isdigit()
        if taken is None and allowed:
            return candidate
        number += 1
        suffix = f"-{number}"
        candidate = base[: HANDLE_LENGTH - len(suffix)].rstrip("-") + suffix


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


async def match_or_create(db: AsyncSession, person: ExportUser) -> tuple[User, bool]:
    """The account with this email (any case), or a new inactive one; (user, created)."""
    found = await user_by_email(db, person.email)
    if found is not None:
        return found, False
    base = slug(person.pseudo or person.display_name or person.email.split("@", 1)[0], "member")
    handle = await unique_handle(db, base)
    db.add(Handle(handle=handle, kind="user"))
    user = User(
        email=person.email.lower(),
        handle=handle,
        password_hash="",
        display_name=person.display_name[:150],
        pseudonym=" ".join(person.pseudo.split()),
        is_active=False,
    )
    db.add(user)
    await db.flush()
    return user, True


def activation_token(instance: Instance, user: User) -> str:
    return instance.tokens.make(ACTIVATION_PURPOSE, [user.id, instance.tokens.fingerprint(user.password_hash)])


def send_activation(db: AsyncSession, instance: Instance, user: User, association_name: str) -> None:
    link = instance.url(f"/moves/activate/{activation_token(instance, user)}")
    site = instance.settings.instance_name
    with i18n.language(mail_language(user)):
        subject = _("%(association)s moved to %(site)s: activate your account", association=association_name, site=site)
        body = _(
            "Hello %(name)s,\n\nThe association %(association)s moved its Bénévalibre space to %(site)s, with "
            "your history of volunteer time. An account was prepared for you with this address.\n\n"
            "To activate it, choose your password within 30 days with this link:\n\n%(link)s\n\n"
            "Later, use “Forgot your password?” on the login page. If you do not want this account, ignore "
            "this mail: it stays inactive.",
            name=user.public_name,
            association=association_name,
            site=site,
            link=link,
        )
    queue_mail(db, user.email, subject, body)


async def activation_target(db: AsyncSession, instance: Instance, token: str) -> User:
    """The account an activation link is for, while it has not been used; ValidationError otherwise."""
    user, rest = await token_user(db, instance, ACTIVATION_PURPOSE, token, ACTIVATION_MAX_AGE)
    if user is None or user.is_suspended or rest != [instance.tokens.fingerprint(user.password_hash)]:
        raise ValidationError(
            message=lazy_gettext(
                "This activation link is not valid, has expired or was already used. "
                "Use “Forgot your password?” on the login page to get a new link."
            )
        )
    return user


async def activate(db: AsyncSession, instance: Instance, token: str, password: str, confirmation: str) -> User:
    """Set the first password of a moved member's account, which activates it."""
    user = await activation_target(db, instance, token)
    errors = new_password_errors(password, confirmation)
    if errors:
        raise ValidationError(errors)
    set_password(user, password)
    if not user.is_active:
        user.is_active = True
        user.confirmed_at = utcnow()
    await db.flush()
    return user
