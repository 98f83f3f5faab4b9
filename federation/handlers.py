"""What each received activity does: one table keyed by (activity type, object kind) -> ``handle_<verb>_ap``.

The inbox already checked the signature, that the signer is the ``actor`` and that the activity id is on the
actor's origin. Handlers check what depends on the activity (an ``Accept`` only from the followed actor, an
``Undo`` only from the follower, a ``Delete`` of an actor only by itself) and are idempotent. A handler raises
:class:`Ignored` for an activity that is well formed but not for us; any other exception is recorded on the
``InboxItem`` and retried.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import catalog_sync, entry_exchange, follows, mirrors, news, time_entries, urls
from federation.client import FederationClient
from federation.discovery import public_association
from federation.jsonld import id_of
from federation.remote import ACTOR_TYPES, RemoteError, get_actor
from instance.errors import DomainError
from instance.models import Association, Follow, TimeEntry
from instance.settings import Settings

log = logging.getLogger(__name__)


class Ignored(Exception):
    """The activity is valid but changes nothing here; ``reason`` is kept on the row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Context:
    settings: Settings
    client: FederationClient


Handler = Callable[[Context, AsyncSession, dict[str, Any]], Awaitable[None]]


def _actor(activity: dict[str, Any]) -> str:
    actor = id_of(activity.get("actor"))
    if actor is None:
        raise Ignored("no actor")
    return actor


async def _local_association(db: AsyncSession, settings: Settings, actor_id: str | None) -> Association:
    prefix = urls.association_actor(settings, "")
    if not actor_id or not actor_id.startswith(prefix) or "/" in actor_id[len(prefix) :]:
        raise Ignored("the object is not a local association")
    association = await public_association(db, actor_id[len(prefix) :])
    if association is None:
        raise Ignored("no such association here")
    return association


def _embedded_follow(activity: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(Follow id, its actor, its object) from the object of an Accept, Reject or Undo."""
    follow = activity.get("object")
    if isinstance(follow, dict):
        return id_of(follow), id_of(follow.get("actor")), id_of(follow.get("object"))
    return id_of(follow), None, None


async def handle_follow_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    association = await _local_association(db, context.settings, id_of(activity.get("object")))
    try:
        follower = await get_actor(db, context.client, _actor(activity))
    except RemoteError as error:
        raise Ignored(f"the follower cannot be read: {error.reason}") from error
    try:
        await follows.receive_follow(db, context.settings, follower, association, str(activity["id"]))
    except DomainError as error:
        raise Ignored(f"the follower cannot join: {error.message}") from error


async def _answer(db: AsyncSession, activity: dict[str, Any], accepted: bool) -> None:
    follow_id, follower, _followed = _embedded_follow(activity)
    if await follows.answer_received(db, accepted, _actor(activity), follow_id, follower) is None:
        raise Ignored("no Follow of ours that this actor may answer")


async def handle_accept_follow_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    await _answer(db, activity, accepted=True)


async def handle_reject_follow_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    await _answer(db, activity, accepted=False)


async def handle_undo_follow_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    follow_id, _follower, followed = _embedded_follow(activity)
    if not await follows.undo_received(db, _actor(activity), follow_id, followed):
        raise Ignored("no Follow by this actor to undo")


async def handle_delete_actor_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    actor = _actor(activity)
    if id_of(activity.get("object")) != actor:
        raise Ignored("an actor may delete only itself")
    await follows.forget_actor(db, actor)


async def handle_update_actor_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    """An actor changed its profile: a mirrored association refreshes its profile and its catalog."""
    actor = _actor(activity)
    if id_of(activity.get("object")) != actor:
        raise Ignored("an actor may update only itself")
    try:
        remote = await get_actor(db, context.client, actor, refresh=True)
    except RemoteError as error:
        raise Ignored(f"the actor cannot be read: {error.reason}") from error
    association = await mirrors.mirrored_association(db, actor)
    person = await mirrors.mirrored_person(db, actor)
    if association is None and person is None:
        raise Ignored("an actor we keep nothing of")
    if person is not None:
        await mirrors.person_for(db, remote)
    if association is not None:
        mirrors.refresh_profile(association, remote)
        try:
            await catalog_sync.refresh(db, context.client, association, remote.catalog)
        except RemoteError as error:
            log.info("catalog of %s not refreshed: %s", actor, error.reason)


async def _entry_association(context: Context, db: AsyncSession, activity: dict[str, Any]) -> Association:
    document = activity.get("object")
    audience = time_entries.audience_of(document) if isinstance(document, dict) else None
    return await _local_association(db, context.settings, audience)


async def handle_create_entry_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    association = await _entry_association(context, db, activity)
    try:
        await entry_exchange.receive_entry(db, context.settings, association, activity)
    except entry_exchange.NotForUs as error:
        raise Ignored(str(error)) from error


async def handle_delete_entry_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    try:
        await entry_exchange.receive_withdrawal(db, None, activity)
    except entry_exchange.NotForUs as error:
        raise Ignored(str(error)) from error


def _decision(accepted: bool) -> Handler:
    async def handle(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
        try:
            await entry_exchange.receive_decision(db, context.settings, activity, accepted)
        except entry_exchange.NotForUs as error:
            raise Ignored(str(error)) from error

    return handle


async def handle_create_note_ap(context: Context, db: AsyncSession, activity: dict[str, Any]) -> None:
    """A news note of a remote association that volunteers here joined: kept and shown to them."""
    association = await mirrors.mirrored_association(db, _actor(activity))
    if association is None:
        raise Ignored("not a note of an association our volunteers joined")
    if await news.receive_note(db, association, activity) is None:
        raise Ignored("a note we keep already, or one without text")


HANDLERS: dict[tuple[str, str], Handler] = {
    ("Follow", "Actor"): handle_follow_ap,
    ("Accept", "Follow"): handle_accept_follow_ap,
    ("Reject", "Follow"): handle_reject_follow_ap,
    ("Undo", "Follow"): handle_undo_follow_ap,
    ("Delete", "Actor"): handle_delete_actor_ap,
    ("Update", "Actor"): handle_update_actor_ap,
    ("Create", "TimeEntry"): handle_create_entry_ap,
    ("Update", "TimeEntry"): handle_create_entry_ap,
    ("Delete", "TimeEntry"): handle_delete_entry_ap,
    ("Delete", "Object"): handle_delete_entry_ap,
    ("Accept", "TimeEntry"): _decision(accepted=True),
    ("Reject", "TimeEntry"): _decision(accepted=False),
    ("Create", "Note"): handle_create_note_ap,
}


async def object_kind(db: AsyncSession, settings: Settings, activity: dict[str, Any]) -> str | None:
    """The kind of the activity's object: its ``type`` (``Actor`` for every actor type), or for an IRI, what
    we know of it (the actor itself, one of our Follow activities, a time entry of ours or a copy we keep);
    the IRI of a ``Delete`` we know nothing of is an ``Object``."""
    target = activity.get("object")
    actor = id_of(activity.get("actor"))
    if isinstance(target, dict):
        kind = target.get("type")
        if not isinstance(kind, str):  # a list or an object is no kind (and cannot be looked up in a set)
            return None
        if kind in ACTOR_TYPES or (kind == "Tombstone" and id_of(target) == actor):
            return "Actor"
        return kind
    if not isinstance(target, str):
        return None
    if target == actor or activity.get("type") == "Follow":
        return "Actor"
    if await db.scalar(select(Follow.id).where(Follow.activity_id == target)) is not None:
        return "Follow"
    if time_entries.is_local_entry(settings, target) is not None:
        return "TimeEntry"
    if await db.scalar(select(TimeEntry.id).where(TimeEntry.ap_id == target)) is not None:
        return "TimeEntry"
    return "Object" if activity.get("type") == "Delete" else None


async def handler_for(db: AsyncSession, settings: Settings, activity: dict[str, Any]) -> Handler | None:
    kind = activity.get("type")
    if not isinstance(kind, str):
        return None
    return HANDLERS.get((kind, await object_kind(db, settings, activity) or ""))
