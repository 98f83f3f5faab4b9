"""Finding local actors: by handle for their documents, by ``acct:`` or URL for WebFinger; NodeInfo usage.

Only actors that may be seen by anyone are found: active, unsuspended volunteers, and associations that are
approved and not hidden. Everything else is "not found", with no hint of why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import urls
from instance.models import Association, AssociationStatus, TimeEntry, User, utcnow
from instance.settings import Settings

SOFTWARE = "benevalibre-fed"
NODEINFO_SCHEMAS = {
    "2.1": "http://nodeinfo.diaspora.software/ns/schema/2.1",
    "2.0": "http://nodeinfo.diaspora.software/ns/schema/2.0",
}


class MalformedResource(ValueError):
    """The WebFinger ``resource`` is missing or is neither an ``acct:`` URI nor an http(s) URL."""


async def public_user(db: AsyncSession, handle: str) -> User | None:
    user: User | None = await db.scalar(select(User).where(User.handle == handle.lower()))
    if user is None or not user.is_active or user.is_suspended or user.is_remote:
        return None
    return user


async def public_association(db: AsyncSession, handle: str) -> Association | None:
    association: Association | None = await db.scalar(select(Association).where(Association.handle == handle.lower()))
    if association is None or association.hidden or association.status != AssociationStatus.ACTIVE:
        return None
    return None if association.is_remote else association


@dataclass(frozen=True)
class Found:
    """A local actor found by WebFinger."""

    subject: str  # acct:handle@host
    actor_id: str
    profile_page: str | None


def _split_resource(settings: Settings, resource: str) -> tuple[str, str] | None:
    """``(kind, handle)`` named by the resource on this host (kind: instance, user, association, any)."""
    resource = resource.strip()
    if resource.lower().startswith("acct:"):
        account = resource[5:].removeprefix("@")
        handle, at, host = account.rpartition("@")
        if not at or not handle or not host or "@" in handle or "/" in account:
            raise MalformedResource(resource)
        if host.lower() != settings.host:
            return None
        return ("instance", "") if handle.lower() == settings.host else ("any", handle)
    parts = urlsplit(resource)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MalformedResource(resource)
    if parts.netloc.lower() != settings.host or parts.query or parts.fragment:
        return None
    segments = parts.path.split("/")
    if parts.path == urls.INSTANCE_ACTOR_PATH:
        return ("instance", "")
    if len(segments) == 3 and segments[1] in ("users", "associations") and segments[2]:
        return ("user" if segments[1] == "users" else "association", segments[2])
    return None


async def webfinger(db: AsyncSession, settings: Settings, resource: str) -> Found | None:
    """The local actor a WebFinger resource names, or None; ``MalformedResource`` for a bad resource."""
    named = _split_resource(settings, resource)
    if named is None:
        return None
    kind, handle = named
    if kind == "instance":
        home = urls.absolute(settings, "/")
        return Found(f"acct:{settings.host}@{settings.host}", urls.instance_actor(settings), home)
    if kind in ("user", "any"):
        user = await public_user(db, handle)
        if user is not None:
            return Found(f"acct:{user.handle}@{settings.host}", urls.user_actor(settings, user.handle), None)
    if kind in ("association", "any"):
        association = await public_association(db, handle)
        if association is not None:
            actor_id = urls.association_actor(settings, association.handle)
            return Found(f"acct:{association.handle}@{settings.host}", actor_id, actor_id)
    return None


def software_version() -> str:
    try:
        return metadata.version(SOFTWARE)
    except metadata.PackageNotFoundError:
        return "0.1.0"


async def usage(db: AsyncSession, now: dt.datetime | None = None) -> dict[str, Any]:
    """NodeInfo ``usage``: active accounts, those seen in the last 30 and 180 days, and time entries."""
    now = now or utcnow()
    people = (
        select(func.count())
        .select_from(User)
        .where(User.is_active.is_(True), User.is_suspended.is_(False), User.actor_uri.is_(None))
    )
    month = people.where(User.last_login_at >= now - dt.timedelta(days=30))
    halfyear = people.where(User.last_login_at >= now - dt.timedelta(days=180))
    return {
        "users": {
            "total": await db.scalar(people) or 0,
            "activeMonth": await db.scalar(month) or 0,
            "activeHalfyear": await db.scalar(halfyear) or 0,
        },
        "localPosts": await db.scalar(select(func.count()).select_from(TimeEntry).where(TimeEntry.ap_id.is_(None)))
        or 0,
    }


def nodeinfo(settings: Settings, version: str, usage_counts: dict[str, Any]) -> dict[str, Any]:
    """The NodeInfo document in schema ``version`` (``2.0`` or ``2.1``)."""
    return {
        "version": version,
        "software": {"name": SOFTWARE, "version": software_version()},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": settings.user_registration == "open",
        "usage": usage_counts,
        "metadata": {"nodeName": settings.instance_name},
    }
