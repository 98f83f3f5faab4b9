"""Anonymous entry links: a manager shares a link with which someone without an account logs time.

Entries made through a link carry the link and the participant's name; when the association moderates
entries they always wait for a manager.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import DomainError, NotFound, ValidationError
from instance.i18n import lazy_gettext
from instance.models import AnonymousLink, Association, TimeEntry, User, utcnow
from instance.services.access import require_permission
from instance.services.entries import add_entry, clean_entry, today


class LinkGone(DomainError):
    """The link expired or was disabled (410: it existed, it will not work again)."""

    status_code = 410


def link_path(link: AnonymousLink) -> str:
    return f"/a/{link.token}"


def is_usable(link: AnonymousLink) -> bool:
    return link.is_active and (link.expires_on is None or link.expires_on >= today())


async def list_links(db: AsyncSession, user: User, association: Association) -> list[AnonymousLink]:
    await require_permission(db, user, association, "manage_entries")
    rows = await db.scalars(
        select(AnonymousLink)
        .where(AnonymousLink.association_id == association.id)
        .order_by(AnonymousLink.is_active.desc(), AnonymousLink.created_at.desc(), AnonymousLink.id.desc())
    )
    return list(rows.all())


async def create_link(
    db: AsyncSession, user: User, association: Association, values: Mapping[str, str]
) -> AnonymousLink:
    await require_permission(db, user, association, "manage_entries")
    errors: dict[str, object] = {}
    name = " ".join(values.get("name", "").split())
    if not name:
        errors["name"] = lazy_gettext("Please name the link, such as “Saturday market helpers”.")
    elif len(name) > 150:
        errors["name"] = lazy_gettext("The name can have at most 150 characters.")
    expires_text = values.get("expires_on", "").strip()
    expires: dt.date | None = None
    if expires_text:
        try:
            expires = dt.date.fromisoformat(expires_text)
        except ValueError:
            errors["expires_on"] = lazy_gettext("Please give a valid date, or leave it empty.")
        else:
            if expires < today():
                errors["expires_on"] = lazy_gettext("The expiry date cannot be in the past.")
    if errors:
        raise ValidationError(errors)
    link = AnonymousLink(association_id=association.id, token=secrets.token_urlsafe(24), name=name, expires_on=expires)
    db.add(link)
    await db.flush()
    return link


async def disable_link(db: AsyncSession, user: User, association: Association, link_id: int) -> AnonymousLink:
    await require_permission(db, user, association, "manage_entries")
    link = await db.get(AnonymousLink, link_id)
    if link is None or link.association_id != association.id:
        raise NotFound(lazy_gettext("This link does not exist."))
    link.is_active = False
    await db.flush()
    return link


async def open_link(db: AsyncSession, token: str) -> tuple[AnonymousLink, Association]:
    """The link and its association; NotFound for an unknown token, LinkGone for one that no longer works."""
    link = await db.scalar(select(AnonymousLink).where(AnonymousLink.token == token))
    if link is None:
        raise NotFound(lazy_gettext("This link does not exist."))
    association = await db.get(Association, link.association_id)
    if association is None:
        raise NotFound(lazy_gettext("This link does not exist."))
    if not is_usable(link):
        raise LinkGone(lazy_gettext("This link no longer works. Ask the association for a new one."))
    return link, association


async def create_anonymous_entry(db: AsyncSession, base_url: str, token: str, values: Mapping[str, str]) -> TimeEntry:
    link, association = await open_link(db, token)
    errors: dict[str, object] = {}
    participant = " ".join(values.get("participant_name", "").split())
    if not participant:
        errors["participant_name"] = lazy_gettext("Please give your name.")
    elif len(participant) > 150:
        errors["participant_name"] = lazy_gettext("The name can have at most 150 characters.")
    try:
        data = await clean_entry(db, association, values)
    except ValidationError as error:
        raise ValidationError({**errors, **error.fields}) from error
    if errors:
        raise ValidationError(errors)
    entry = await add_entry(db, association, data, base_url, anonymous_link_id=link.id, participant_name=participant)
    link.last_used_at = utcnow()
    await db.flush()
    return entry
