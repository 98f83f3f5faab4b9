"""Local rows that stand for remote actors, so that memberships, entries, lists and totals work unchanged.

- On an association's instance, a person of another server who joins gets a ``User`` row with ``actor_uri``
  set: no password, a placeholder address never written to, and a handle ``name@host``.
- On a volunteer's instance, an association of another instance that a volunteer joins gets an ``Association``
  row with ``actor_uri`` set, one default role, and a copy of its catalog (``catalog_sync``).

Mirrors never appear where local accounts and associations are listed or counted, and nobody manages a mirrored
association here (``access.require_permission``).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import Association, AssociationStatus, Handle, RemoteActor, Role, User, utcnow

HANDLE_LIMIT = 64
REMOTE_EMAIL_DOMAIN = "remote.invalid"  # a reserved top-level domain: nothing is ever sent there


def mirror_handle(actor: RemoteActor) -> str:
    """``name@host`` for the mirror row (``@`` never appears in local handles); shortened with a digest of the
    actor id when too long."""
    name = (actor.preferred_username or "actor").lower()
    handle = f"{name}@{actor.domain}"
    if len(handle) <= HANDLE_LIMIT:
        return handle
    digest = hashlib.sha256(actor.uri.encode()).hexdigest()[:12]
    return f"{name[:20]}@{digest}"[:HANDLE_LIMIT]


def _placeholder_email(actor: RemoteActor) -> str:
    return f"{hashlib.sha256(actor.uri.encode()).hexdigest()[:32]}@{REMOTE_EMAIL_DOMAIN}"


async def _free_handle(db: AsyncSession, actor: RemoteActor) -> str:
    handle = mirror_handle(actor)
    if await db.get(Handle, handle) is not None:  # another actor of that host once had the name
        handle = f"{handle[: HANDLE_LIMIT - 13]}~{hashlib.sha256(actor.uri.encode()).hexdigest()[:12]}"
    return handle


async def _insert(db: AsyncSession, row: User | Association, actor: RemoteActor) -> bool:
    """Insert ``row`` with its handle in a savepoint; False when a concurrent request mirrored the actor first."""
    handle = await _free_handle(db, actor)  # read before the savepoint: on SQLite, a transaction that reads and
    try:  # then writes fails at once when another connection wrote in between
        async with db.begin_nested():
            row.handle = handle
            db.add(Handle(handle=row.handle, kind="remote"))
            await db.flush()
            db.add(row)
    except IntegrityError:
        return False
    return True


async def person_for(db: AsyncSession, actor: RemoteActor) -> User:
    """The ``User`` row standing for a remote person, created on first need and kept up to date."""
    found: User | None = await db.scalar(select(User).where(User.actor_uri == actor.uri))
    if found is None:
        found = User(
            actor_uri=actor.uri,
            email=_placeholder_email(actor),
            display_name=(actor.name or actor.preferred_username or actor.domain)[:150],
            is_active=True,
            confirmed_at=utcnow(),
        )
        if not await _insert(db, found, actor):
            return await _existing_person(db, actor.uri)
    elif actor.name and found.display_name != actor.name[:150]:
        found.display_name = actor.name[:150]
    return found


async def association_for(db: AsyncSession, actor: RemoteActor) -> Association:
    """The ``Association`` row mirroring a remote association, with the one role its members get here."""
    found: Association | None = await db.scalar(select(Association).where(Association.actor_uri == actor.uri))
    if found is None:
        found = Association(
            actor_uri=actor.uri,
            name=(actor.name or actor.preferred_username or actor.domain)[:150],
            name_key="@" + hashlib.sha256(actor.uri.encode()).hexdigest(),  # local name keys have no leading @
            status=AssociationStatus.ACTIVE,
            moderate_membership=actor.manually_approves,
        )
        if not await _insert(db, found, actor):
            existing = await mirrored_association(db, actor.uri)
            if existing is None:
                raise LookupError(f"no mirror of {actor.uri}")
            return existing
        db.add(Role(association_id=found.id, name="Membre", is_default=True))
        await db.flush()
    refresh_profile(found, actor)
    return found


def refresh_profile(association: Association, actor: RemoteActor) -> None:
    """Copy what the remote association says of itself (after its actor was fetched again)."""
    association.name = (actor.name or association.name)[:150]
    association.description = actor.summary
    web_page = actor.url.lower().startswith(("https://", "http://")) and actor.url != actor.uri
    association.website = actor.url[:300] if web_page else ""  # never a javascript: or data: link
    association.moderate_membership = actor.manually_approves


async def _existing_person(db: AsyncSession, uri: str) -> User:
    existing = await mirrored_person(db, uri)
    if existing is None:
        raise LookupError(f"no mirror of {uri}")
    return existing


async def mirrored_association(db: AsyncSession, uri: str) -> Association | None:
    found: Association | None = await db.scalar(select(Association).where(Association.actor_uri == uri))
    return found


async def mirrored_person(db: AsyncSession, uri: str) -> User | None:
    found: User | None = await db.scalar(select(User).where(User.actor_uri == uri))
    return found
