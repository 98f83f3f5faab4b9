"""What a person changes on their own account: profile, password, email address, and deleting it."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from instance import i18n
from instance.errors import ValidationError
from instance.events import AccountDeleted, publish
from instance.i18n import gettext as _
from instance.i18n import lazy_gettext
from instance.mail import queue_mail
from instance.models import Association, EntryStatus, Membership, MembershipStatus, Role, TimeEntry, User, utcnow
from instance.runtime import Instance
from instance.security import verify_password
from instance.services.accounts import (
    CONFIRM_MAX_AGE,
    clean_name,
    email_error,
    language_error,
    mail_language,
    name_errors,
    new_password_errors,
    normalise_email,
    set_password,
    token_user,
)

# What the entries of a deleted account show instead of a name (stored as is; see docs/accounts.md).
FORMER_MEMBER = "Former member"


def wrong_password() -> ValidationError:
    return ValidationError({"password": lazy_gettext("This is not your current password.")})


async def update_profile(db: AsyncSession, user: User, *, display_name: str, pseudonym: str, language: str) -> User:
    display_name, pseudonym = clean_name(display_name), clean_name(pseudonym)
    errors = name_errors(display_name, pseudonym)
    problem = language_error(language)
    if problem is not None:
        errors["language"] = problem
    if errors:
        raise ValidationError(errors)
    user.display_name, user.pseudonym, user.language = display_name, pseudonym, language
    await db.flush()
    return user


async def change_password(db: AsyncSession, user: User, *, current: str, password: str, confirmation: str) -> User:
    """Set a new password once the current one is given; every other session of the person ends."""
    errors = new_password_errors(password, confirmation, field="new_password")
    if not verify_password(user.password_hash, current):
        errors.update(wrong_password().fields)
    if errors:
        raise ValidationError(errors)
    set_password(user, password)
    await db.flush()
    return user


# -- email address -----------------------------------------------------------------------------------------


async def request_email_change(db: AsyncSession, instance: Instance, user: User, *, password: str, email: str) -> str:
    """Mail a confirmation link to the new address; the address changes only when it is followed."""
    email = normalise_email(email)
    errors: dict[str, object] = {}
    if email == user.email:
        errors["email"] = lazy_gettext("This is already your address.")
    else:
        problem = await email_error(db, email, exclude_id=user.id)
        if problem is not None:
            errors["email"] = problem
    if not verify_password(user.password_hash, password):
        errors.update(wrong_password().fields)
    if errors:
        raise ValidationError(errors)
    token = instance.tokens.make("email", [user.id, email, instance.tokens.fingerprint(user.email)])
    link = instance.url(f"/me/email/{token}")
    with i18n.language(mail_language(user)):
        subject = _("Confirm your new address on %(site)s", site=instance.settings.instance_name)
        body = _(
            "Hello %(name)s,\n\nTo use this address for your account on %(site)s, open this link within 3 days:"
            "\n\n%(link)s\n\nIf you did not ask for it, ignore this mail.",
            name=user.public_name,
            site=instance.settings.instance_name,
            link=link,
        )
    queue_mail(db, email, subject, body)
    return email


async def email_change_target(db: AsyncSession, instance: Instance, token: str) -> tuple[User, str]:
    """The account and the new address of an email-change link, while the old address is unchanged."""
    user, rest = await token_user(db, instance, "email", token, CONFIRM_MAX_AGE)
    if user is None or len(rest) != 2 or rest[1] != instance.tokens.fingerprint(user.email):
        raise ValidationError(message=lazy_gettext("This link is not valid, has expired or was already used."))
    return user, str(rest[0])


async def confirm_email_change(db: AsyncSession, instance: Instance, token: str) -> User:
    user, email = await email_change_target(db, instance, token)
    problem = await email_error(db, email, exclude_id=user.id)
    if problem is not None:
        raise ValidationError(message=problem)
    old = user.email
    user.email = email
    with i18n.language(mail_language(user)):
        subject = _("Your address on %(site)s changed", site=instance.settings.instance_name)
        body = _(
            "Hello %(name)s,\n\nYour account now uses the address %(email)s. If you did not do this, "
            "please contact the administrators of %(site)s.",
            name=user.public_name,
            email=email,
            site=instance.settings.instance_name,
        )
    queue_mail(db, old, subject, body)
    await db.flush()
    return user


# -- memberships and deletion ------------------------------------------------------------------------------


async def memberships_of(db: AsyncSession, user: User) -> Sequence[Membership]:
    query = select(Membership).where(Membership.user_id == user.id).order_by(Membership.created_at)
    return (await db.scalars(query)).unique().all()


async def sole_managed_associations(db: AsyncSession, user: User) -> list[Association]:
    """Associations that would have no manager left without this person."""
    managed = (
        await db.scalars(
            select(Membership)
            .join(Role, Membership.role_id == Role.id)
            .where(
                Membership.user_id == user.id,
                Membership.status == MembershipStatus.ACTIVE,
                Role.manage_association.is_(True),
            )
        )
    ).unique()
    alone = []
    for membership in managed:
        others = await db.scalar(
            select(func.count(Membership.id))
            .join(Role, Membership.role_id == Role.id)
            .where(
                Membership.association_id == membership.association_id,
                Membership.user_id != user.id,
                Membership.status == MembershipStatus.ACTIVE,
                Role.manage_association.is_(True),
            )
        )
        if not others:
            alone.append(membership.association)
    return alone


# What becomes of the entries of a deleted account: kept (anonymised) or withdrawn (anonymised, not counted).
KEEP_ENTRIES = "keep"
WITHDRAW_ENTRIES = "withdraw"


async def delete_account(db: AsyncSession, user: User, password: str, entries: str = KEEP_ENTRIES) -> None:
    """Delete the account once its password is given, unless it is the last manager of an association.

    Memberships, notifications and access tokens go with it; time entries stay with their associations,
    anonymised, and (when ``entries`` is ``withdraw``) withdrawn so that they no longer count.
    """
    if entries not in (KEEP_ENTRIES, WITHDRAW_ENTRIES):
        raise ValidationError({"entries": lazy_gettext("Please choose what becomes of your entries.")})
    if not verify_password(user.password_hash, password):
        raise wrong_password()
    alone = await sole_managed_associations(db, user)
    if alone:
        names = ", ".join(association.name for association in alone)
        raise ValidationError(
            message=lazy_gettext(
                "You are the last manager of %(names)s. Give the manager role to another member, "
                "or delete the association, before deleting your account.",
                names=names,
            )
        )
    await publish(db, AccountDeleted(user.id, withdraw=entries == WITHDRAW_ENTRIES))
    if entries == WITHDRAW_ENTRIES:
        await db.execute(
            update(TimeEntry)
            .where(TimeEntry.user_id == user.id, TimeEntry.status != EntryStatus.WITHDRAWN)
            .values(status=EntryStatus.WITHDRAWN, updated_at=utcnow())
        )
    await db.execute(
        update(TimeEntry).where(TimeEntry.user_id == user.id).values(user_id=None, participant_name=FORMER_MEMBER)
    )
    await db.execute(delete(Membership).where(Membership.user_id == user.id))
    await db.delete(user)
    await db.flush()
