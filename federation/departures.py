"""A volunteer who deletes their account tells the remote associations they took part in.

Before the account is erased, its keys are set aside (their owner becomes ``deleted:<random>``, no longer tied
to the account) so the worker can still sign its last activities: when the volunteer chose to withdraw their
time, a ``Delete`` of each of their entries in a remote association; then a ``Delete`` of the actor itself,
after which the associations end the membership and keep the remaining entries without the person's name.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import delivery, urls
from federation import time_entries as wire
from federation.actors import OBJECT_CONTEXT
from federation.local_keys import Owner, actor_key, owner_of, with_proof
from instance.models import Association, Follow, Membership, RemoteActor, TimeEntry, User
from instance.models.entries import EntryStatus
from instance.models.federation import DELETED_KIND
from instance.settings import Settings


async def _remote_associations(db: AsyncSession, settings: Settings, user: User) -> dict[str, str]:
    """actor id -> inbox of every remote association the person joined or asked to join."""
    joined = select(Membership.association_id).where(Membership.user_id == user.id)
    mirrored = select(Association.actor_uri).where(Association.id.in_(joined), Association.actor_uri.is_not(None))
    uris = set((await db.scalars(mirrored)).all())
    uris |= set((await db.scalars(select(Follow.followed_uri).where(Follow.user_id == user.id))).all())
    found: dict[str, str] = {}
    for actor in (await db.scalars(select(RemoteActor).where(RemoteActor.uri.in_([u for u in uris if u])))).all():
        found[actor.uri] = actor.delivery_inbox
    return found


async def announce_deletion(db: AsyncSession, settings: Settings, user: User, withdraw: bool) -> None:
    targets = await _remote_associations(db, settings, user)
    if not targets:
        return
    key = await actor_key(db, settings, owner_of(settings, user))
    key.owner, key.user_id = f"{DELETED_KIND}:{uuid.uuid4().hex}", None
    await db.flush()
    actor_id = urls.user_actor(settings, user.handle)
    owner = Owner(key.owner, actor_id)
    if withdraw:
        entries = await db.execute(
            select(TimeEntry, Association.actor_uri)
            .join(Association, Association.id == TimeEntry.association_id)
            .where(
                TimeEntry.user_id == user.id,
                TimeEntry.status != EntryStatus.WITHDRAWN,
                Association.actor_uri.in_(list(targets)),
            )
        )
        for entry, association_uri in entries.all():
            assert association_uri is not None
            activity = wire.activity("Delete", actor_id, association_uri, urls.entry(settings, entry.id))
            signed = await with_proof(db, settings, owner, activity)
            await delivery.enqueue(db, signed, owner.owner, [targets[association_uri]])
    gone = {
        "@context": OBJECT_CONTEXT,
        "id": f"{actor_id}#delete-{uuid.uuid4().hex}",
        "type": "Delete",
        "actor": actor_id,
        "to": sorted(targets),
        "object": actor_id,
    }
    signed = await with_proof(db, settings, owner, gone)
    await delivery.enqueue(db, signed, owner.owner, targets.values())
