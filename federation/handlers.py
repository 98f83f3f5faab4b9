"""What each received activity does: one table keyed by (activity type, object kind) -> ``handle_<verb>_ap``.

The inbox already checked the signature, that the signer is the ``actor`` and that the activity id is on the
actor's origin. Handlers check what depends on the activity (an ``Accept`` only from the followed actor, an
``Undo`` only from the follower, a ``Delete`` of an actor only by itself) and are idempotent. A handler raises
:class:`Ignored` for an activity that is well formed but not for us; any other exception is recorded on the
``InboxItem`` and retried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import follows, urls
from federation.client import FederationClient
from federation.discovery import public_association
from federation.jsonld import id_of
from federation.remote import ACTOR_TYPES, RemoteError, get_actor
from instance.models import Association, Follow
from instance.settings import Settings


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
    await follows.receive_follow(db, context.settings, follower, association, str(activity["id"]))


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


HANDLERS: dict[tuple[str, str], Handler] = {
    ("Follow", "Actor"): handle_follow_ap,
    ("Accept", "Follow"): handle_accept_follow_ap,
    ("Reject", "Follow"): handle_reject_follow_ap,
    ("Undo", "Follow"): handle_undo_follow_ap,
    ("Delete", "Actor"): handle_delete_actor_ap,
}


async def object_kind(db: AsyncSession, activity: dict[str, Any]) -> str | None:
    """The kind of the activity's object: its ``type`` (``Actor`` for every actor type), or for an IRI, what
    we know of it (the actor itself, or one of our Follow activities)."""
    target = activity.get("object")
    actor = id_of(activity.get("actor"))
    if isinstance(target, dict):
        kind = target.get("type")
        if kind in ACTOR_TYPES or (kind == "Tombstone" and id_of(target) == actor):
            return "Actor"
        return kind if isinstance(kind, str) else None
    if not isinstance(target, str):
        return None
    if target == actor or activity.get("type") == "Follow":
        return "Actor"
    if await db.scalar(select(Follow.id).where(Follow.activity_id == target)) is not None:
        return "Follow"
    return None


async def handler_for(db: AsyncSession, activity: dict[str, Any]) -> Handler | None:
    kind = activity.get("type")
    if not isinstance(kind, str):
        return None
    return HANDLERS.get((kind, await object_kind(db, activity) or ""))
