"""Accounts: creation, login, confirmation by mail and password reset.

Links sent by mail carry signed tokens (``Instance.tokens``) tied to the state they change, so that each
works once: a confirmation token names the address it confirms, a reset token a fingerprint of the password
hash it replaces. Services flush; the caller commits (which also sends the queued mails).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from instance import i18n
from instance.errors import ValidationError
from instance.i18n import gettext as _
from instance.i18n import lazy_gettext
from instance.mail import queue_mail
from instance.models import EndedSession, User, utcnow
from instance.runtime import Instance
from instance.security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    spend_verification_time,
    verify_password,
)
from instance.services.handles import reserve_handle
from instance.services.instance_settings import effective

CONFIRM_MAX_AGE = 3 * 24 * 3600
RESET_MAX_AGE = 3600
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 150
# An ended session stays refused this long after its cookie's own expiry: a request that was under way at the logout
# may still sign the cookie afresh, and the clocks of several app servers may differ.
ENDED_SESSION_MARGIN = dt.timedelta(hours=1)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class AccountNotConfirmed(ValidationError):
    """The password is right but the account waits for its confirmation by mail."""


# -- checks shared with the profile services ---------------------------------------------------------------


def normalise_email(value: str) -> str:
    return value.strip().lower()


async def email_error(db: AsyncSession, email: str, *, exclude_id: int | None = None) -> object | None:
    """What is wrong with ``email`` (already normalised) as a new account address, or None."""
    if len(email) > 254 or not EMAIL_RE.match(email):
        return lazy_gettext("Please enter a valid email address, like name@example.org.")
    query = select(User.id).where(func.lower(User.email) == email)
    if exclude_id is not None:
        query = query.where(User.id != exclude_id)
    if await db.scalar(query) is not None:
        return lazy_gettext("An account already uses this email address.")
    return None


def password_error(password: str) -> object | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return lazy_gettext("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return lazy_gettext("Use at most %(n)s characters.", n=MAX_PASSWORD_LENGTH)
    return None


def new_password_errors(password: str, confirmation: str, field: str = "password") -> dict[str, object]:
    """Errors of a new password typed twice; the second field is ``<field>_confirmation``."""
    errors: dict[str, object] = {}
    problem = password_error(password)
    if problem is not None:
        errors[field] = problem
    elif password != confirmation:
        errors[f"{field}_confirmation"] = lazy_gettext("The two passwords are different.")
    return errors


def name_errors(display_name: str, pseudonym: str) -> dict[str, object]:
    errors: dict[str, object] = {}
    if not display_name and not pseudonym:
        errors["display_name"] = lazy_gettext("Please give a name or a pseudonym.")
    for field, value in (("display_name", display_name), ("pseudonym", pseudonym)):
        if len(value) > MAX_NAME_LENGTH:
            errors[field] = lazy_gettext("Use at most %(n)s characters.", n=MAX_NAME_LENGTH)
    return errors


def language_error(language: str) -> object | None:
    if language and language not in i18n.LANGUAGES:
        return lazy_gettext("Please choose one of the proposed languages.")
    return None


def clean_name(value: str) -> str:
    return " ".join(value.split())


# -- creation and login ------------------------------------------------------------------------------------


async def create_user(
    db: AsyncSession,
    *,
    email: str,
    password: str,
    handle: str,
    display_name: str = "",
    pseudonym: str = "",
    language: str = "",
    active: bool = False,
    admin: bool = False,
) -> User:
    """Check everything, naming every bad field at once, then add the account. Flushes; the caller commits
    (and rolls back on ValidationError: the handle may already be reserved in the transaction)."""
    email = normalise_email(email)
    display_name, pseudonym = clean_name(display_name), clean_name(pseudonym)
    errors: dict[str, object] = {}
    problem = await email_error(db, email)
    if problem is not None:
        errors["email"] = problem
    problem = password_error(password)
    if problem is not None:
        errors["password"] = problem
    errors.update(name_errors(display_name, pseudonym))
    problem = language_error(language)
    if problem is not None:
        errors["language"] = problem
    try:
        handle = await reserve_handle(db, handle, "user")
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError(errors)
    user = User(
        email=email,
        handle=handle,
        password_hash=hash_password(password),
        display_name=display_name,
        pseudonym=pseudonym,
        language=language,
        is_active=active,
        is_admin=admin,
        confirmed_at=utcnow() if active else None,
    )
    db.add(user)
    await db.flush()
    return user


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    return await db.scalar(
        select(User).where(func.lower(User.email) == normalise_email(email), User.actor_uri.is_(None))
    )


async def authenticate(db: AsyncSession, email: str, password: str) -> User:
    """The account with this email and password; ValidationError otherwise (one message for every wrong
    pair, whether the email exists or not, and about the same time spent either way)."""
    user = await user_by_email(db, email) if email.strip() else None
    if user is None:
        spend_verification_time(password)
        raise ValidationError(message=lazy_gettext("Wrong email or password."))
    if not verify_password(user.password_hash, password):
        raise ValidationError(message=lazy_gettext("Wrong email or password."))
    if user.is_suspended:
        raise ValidationError(message=lazy_gettext("This account is suspended. Please contact the administrators."))
    if not user.is_active:
        raise AccountNotConfirmed(
            message=lazy_gettext("This account is not confirmed yet: please follow the link we sent you by mail.")
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    await db.flush()
    return user


async def end_session(db: AsyncSession, instance: Instance, session_id: str, user_id: int) -> None:
    """Refuse the session ``session_id`` of ``user_id`` from now on (the person logged out of it): every copy of its
    cookie stops working. It is kept until that cookie would have expired anyway; the ended sessions already past
    that time are removed on the way, so that the table holds only the logouts of the last ``session_max_age``."""
    now = utcnow()
    await db.execute(delete(EndedSession).where(EndedSession.ends_at < now))
    ends_at = now + dt.timedelta(seconds=instance.settings.session_max_age) + ENDED_SESSION_MARGIN
    connection = await db.connection()
    insert = sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert
    await db.execute(  # the same session logged out twice at once (two tabs) is one row
        insert(EndedSession)
        .values(id=session_id, user_id=user_id, ends_at=ends_at)
        .on_conflict_do_nothing(index_elements=["id"])
    )


# -- registration and confirmation -------------------------------------------------------------------------


async def register(
    db: AsyncSession,
    instance: Instance,
    *,
    email: str,
    password: str,
    password_confirmation: str,
    handle: str,
    display_name: str = "",
    pseudonym: str = "",
    language: str = "",
) -> User:
    """Create an inactive account and queue the mail that confirms it. The caller commits only on success."""
    if (await effective(db, instance.settings)).settings.user_registration == "closed":
        raise ValidationError(message=lazy_gettext("This instance does not accept new accounts."))
    mismatch: dict[str, object] = {}
    if password != password_confirmation:
        mismatch["password_confirmation"] = lazy_gettext("The two passwords are different.")
    try:
        user = await create_user(
            db,
            email=email,
            password=password,
            handle=handle,
            display_name=display_name,
            pseudonym=pseudonym,
            language=language,
        )
    except ValidationError as error:
        raise ValidationError({**mismatch, **error.fields}) from error
    if mismatch:
        raise ValidationError(mismatch)
    send_confirmation(db, instance, user)
    return user


async def token_user(
    db: AsyncSession, instance: Instance, purpose: str, token: str, max_age: int
) -> tuple[User | None, list[object]]:
    """The account a ``[user id, ...]`` token names and the rest of its payload; None when it is not valid."""
    payload = instance.tokens.read(purpose, token, max_age)
    if not isinstance(payload, list) or not payload or not isinstance(payload[0], int):
        return None, []
    return await db.get(User, payload[0]), payload[1:]


def mail_language(user: User) -> str:
    return user.language or i18n.get_language()


def send_confirmation(db: AsyncSession, instance: Instance, user: User) -> None:
    token = instance.tokens.make("confirm", [user.id, user.email])
    link = instance.url(f"/confirm/{token}")
    with i18n.language(mail_language(user)):
        subject = _("Confirm your account on %(site)s", site=instance.settings.instance_name)
        body = _(
            "Hello %(name)s,\n\nTo confirm your account on %(site)s, open this link within 3 days:\n\n%(link)s\n\n"
            "If you did not create this account, ignore this mail: it will stay inactive.",
            name=user.public_name,
            site=instance.settings.instance_name,
            link=link,
        )
    queue_mail(db, user.email, subject, body)


async def confirmation_target(db: AsyncSession, instance: Instance, token: str) -> User:
    """The inactive account a confirmation link is for; ValidationError if the link cannot be used."""
    user, rest = await token_user(db, instance, "confirm", token, CONFIRM_MAX_AGE)
    if user is None or rest != [user.email]:
        raise ValidationError(
            message=lazy_gettext("This confirmation link is not valid or has expired. You can ask for a new one.")
        )
    if user.is_active or user.confirmed_at is not None:
        raise ValidationError(message=lazy_gettext("This account is already confirmed: you can log in."))
    return user


async def confirm_account(db: AsyncSession, instance: Instance, token: str) -> User:
    user = await confirmation_target(db, instance, token)
    user.is_active = True
    user.confirmed_at = user.last_login_at = utcnow()
    await db.flush()
    return user


async def resend_confirmation(db: AsyncSession, instance: Instance, email: str) -> None:
    """Queue a new confirmation mail if an unconfirmed account uses ``email``; silent either way."""
    user = await user_by_email(db, email)
    if user is not None and not user.is_active and user.confirmed_at is None and not user.is_suspended:
        send_confirmation(db, instance, user)


# -- password reset ----------------------------------------------------------------------------------------


async def request_password_reset(db: AsyncSession, instance: Instance, email: str) -> None:
    """Queue a reset link if an account uses ``email``; nothing tells the asker whether one does."""
    user = await user_by_email(db, email)
    if user is None or user.is_suspended:
        return
    token = instance.tokens.make("reset", [user.id, instance.tokens.fingerprint(user.password_hash)])
    link = instance.url(f"/password/reset/{token}")
    with i18n.language(mail_language(user)):
        subject = _("Reset your password on %(site)s", site=instance.settings.instance_name)
        body = _(
            "Hello %(name)s,\n\nTo choose a new password, open this link within one hour:\n\n%(link)s\n\n"
            "If you did not ask for it, ignore this mail: your password stays the same.",
            name=user.public_name,
            link=link,
        )
    queue_mail(db, user.email, subject, body)


async def reset_target(db: AsyncSession, instance: Instance, token: str) -> User:
    """The account a reset link is for, while the password it was made for is unchanged."""
    user, rest = await token_user(db, instance, "reset", token, RESET_MAX_AGE)
    if user is None or user.is_suspended or rest != [instance.tokens.fingerprint(user.password_hash)]:
        raise ValidationError(
            message=lazy_gettext("This link is not valid, has expired or was already used. You can ask for a new one.")
        )
    return user


def set_password(user: User, password: str) -> None:
    """Store a new password; every session opened with the old one ends (see ``web.auth``)."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


async def reset_password(db: AsyncSession, instance: Instance, token: str, password: str, confirmation: str) -> User:
    user = await reset_target(db, instance, token)
    errors = new_password_errors(password, confirmation)
    if errors:
        raise ValidationError(errors)
    set_password(user, password)
    if not user.is_active and user.confirmed_at is None:  # the mail reached its owner: that confirms it
        user.is_active = True
        user.confirmed_at = utcnow()
    await db.flush()
    return user
