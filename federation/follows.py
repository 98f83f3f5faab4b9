"""Follows over federation, both ways, as ``Follow`` rows with one state (pending, accepted, rejected).

A remote actor follows a local association: an open association accepts at once, a moderated one keeps the
follow pending until a manager accepts or rejects it; the association may later remove an accepted follower
(a ``Reject``); the follower leaves with ``Undo``. A local volunteer follows a remote association: the row is
pending until the association's ``Accept`` or ``Reject`` arrives, accepted only from that association.
Every function works in the caller's transaction; deliveries are queued in it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import activities, delivery, urls
from instance.errors import Conflict, NotFound, ValidationError
from instance.i18n import lazy_gettext
from instance.models import Association, Follow, FollowState, RemoteActor, User, utcnow
from instance.models.federation import association_owner, user_owner
from instance.settings import Settings


async def _inbox_of(db: AsyncSession, uri: str) -> list[str]:
    actor = await db.scalar(select(RemoteActor).where(RemoteActor.uri == uri))
    return [actor.delivery_inbox] if actor is not None else []


async def _send_answer(db: AsyncSession, settings: Settings, kind: str, association: Association, row: Follow) -> None:
    actor_id = urls.association_actor(settings, association.handle)
    activity = activities.answer(kind, actor_id, row.activity_id, row.follower_uri, actor_id)
    await delivery.enqueue(db, activity, association_owner(association.id), await _inbox_of(db, row.follower_uri))


# -- remote followers of a local association -------------------------------------------------------------


async def receive_follow(
    db: AsyncSession, settings: Settings, follower: RemoteActor, association: Association, activity_id: str
) -> Follow:
    """Record a Follow of ``association``; accept it at once unless membership is moderated."""
    followed = urls.association_actor(settings, association.handle)
    row = await db.scalar(select(Follow).where(Follow.follower_uri == follower.uri, Follow.followed_uri == followed))
    if row is None:
        row = Follow(
            follower_uri=follower.uri, followed_uri=followed, association_id=association.id, state=FollowState.PENDING
        )
        db.add(row)
    elif row.state == FollowState.REJECTED:
        row.state, row.decided_at = FollowState.PENDING, None
    row.activity_id = activity_id
    if row.state == FollowState.PENDING and not association.moderate_membership:
        row.state, row.decided_at = FollowState.ACCEPTED, utcnow()
    await db.flush()
    if row.state == FollowState.ACCEPTED:  # also answers a repeated Follow of an accepted follower
        await _send_answer(db, settings, "Accept", association, row)
    return row


async def _follower(db: AsyncSession, association: Association, follow_id: int) -> Follow:
    row = await db.get(Follow, follow_id)
    if row is None or row.association_id != association.id:
        raise NotFound(lazy_gettext("This follow request does not exist."))
    return row


async def decide(
    db: AsyncSession, settings: Settings, association: Association, follow_id: int, accept: bool
) -> Follow:
    """A manager accepts or rejects a pending follow request (checked by the caller)."""
    row = await _follower(db, association, follow_id)
    if row.state != FollowState.PENDING:
        raise Conflict(lazy_gettext("This request has already been answered."))
    row.state = FollowState.ACCEPTED if accept else FollowState.REJECTED
    row.decided_at = utcnow()
    await _send_answer(db, settings, "Accept" if accept else "Reject", association, row)
    return row


async def remove_follower(db: AsyncSession, settings: Settings, association: Association, follow_id: int) -> Follow:
    """The association removes an accepted follower: it is told with a ``Reject``."""
    row = await _follower(db, association, follow_id)
    if row.state != FollowState.ACCEPTED:
        raise Conflict(lazy_gettext("This account is not a follower."))
    row.state, row.decided_at = FollowState.REJECTED, utcnow()
    await _send_answer(db, settings, "Reject", association, row)
    return row


async def remote_followers(db: AsyncSession, association: Association) -> Sequence[tuple[Follow, RemoteActor | None]]:
    """The association's remote followers and requests (not the rejected ones), oldest first, with their actor."""
    rows = await db.execute(
        select(Follow, RemoteActor)
        .outerjoin(RemoteActor, RemoteActor.uri == Follow.follower_uri)
        .where(Follow.association_id == association.id, Follow.state != FollowState.REJECTED)
        .order_by(Follow.created_at, Follow.id)
    )
    return [(follow, actor) for follow, actor in rows.all()]


async def accepted_remote_followers(db: AsyncSession, association: Association) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(Follow)
        .where(Follow.association_id == association.id, Follow.state == FollowState.ACCEPTED)
    )
    return count or 0


# -- local volunteers following remote associations ------------------------------------------------------


async def follow_remote(db: AsyncSession, settings: Settings, user: User, target: RemoteActor) -> Follow:
    """Send a Follow from ``user`` to the remote association ``target``; the row waits for its answer."""
    if target.actor_type != "Group":
        raise ValidationError({"target": lazy_gettext("This account is not an association.")})
    follower = urls.user_actor(settings, user.handle)
    row = await db.scalar(select(Follow).where(Follow.follower_uri == follower, Follow.followed_uri == target.uri))
    if row is not None and row.state != FollowState.REJECTED:
        raise Conflict(lazy_gettext("You already follow this association, or wait for its answer."))
    activity = activities.follow(follower, target.uri)
    if row is None:
        row = Follow(follower_uri=follower, followed_uri=target.uri, user_id=user.id, activity_id=activity["id"])
        db.add(row)
    row.activity_id, row.state, row.decided_at = activity["id"], FollowState.PENDING, None
    await db.flush()
    await delivery.enqueue(db, activity, user_owner(user.id), [target.delivery_inbox])
    return row


async def unfollow_remote(db: AsyncSession, settings: Settings, user: User, follow_id: int) -> None:
    """Stop following (or withdraw a request): an ``Undo`` of the Follow is sent, and the row goes."""
    row = await db.get(Follow, follow_id)
    if row is None or row.user_id != user.id:
        raise NotFound(lazy_gettext("This follow does not exist."))
    if row.state != FollowState.REJECTED:
        activity = activities.undo_follow(row.follower_uri, row.activity_id, row.followed_uri)
        await delivery.enqueue(db, activity, user_owner(user.id), await _inbox_of(db, row.followed_uri))
    await db.delete(row)


async def user_follows(db: AsyncSession, user: User) -> Sequence[tuple[Follow, RemoteActor | None]]:
    rows = await db.execute(
        select(Follow, RemoteActor)
        .outerjoin(RemoteActor, RemoteActor.uri == Follow.followed_uri)
        .where(Follow.user_id == user.id)
        .order_by(Follow.created_at, Follow.id)
    )
    return [(follow, actor) for follow, actor in rows.all()]


# -- answers and withdrawals received --------------------------------------------------------------------


async def _match(db: AsyncSession, follow_id: str | None, follower: str | None, followed: str | None) -> Follow | None:
    """The Follow an answer or an Undo is about: by its activity id, else by the pair of actors."""
    if follow_id:
        row = await db.scalar(select(Follow).where(Follow.activity_id == follow_id))
        if row is not None:
            return row
    if follower and followed:
        found: Follow | None = await db.scalar(
            select(Follow).where(Follow.follower_uri == follower, Follow.followed_uri == followed)
        )
        return found
    return None


async def answer_received(
    db: AsyncSession, accepted: bool, actor_uri: str, follow_id: str | None, follower: str | None
) -> Follow | None:
    """An ``Accept``/``Reject`` of a local volunteer's Follow, taken only from the followed actor."""
    row = await _match(db, follow_id, follower, actor_uri)
    if row is None or row.user_id is None or row.followed_uri != actor_uri:
        return None
    row.state = FollowState.ACCEPTED if accepted else FollowState.REJECTED
    row.decided_at = utcnow()
    return row


async def undo_received(db: AsyncSession, actor_uri: str, follow_id: str | None, followed: str | None) -> bool:
    """An ``Undo`` of a Follow of a local association, taken only from the follower."""
    row = await _match(db, follow_id, actor_uri, followed)
    if row is None or row.association_id is None or row.follower_uri != actor_uri:
        return False
    await db.delete(row)
    return True


async def forget_actor(db: AsyncSession, uri: str) -> int:
    """A remote actor was deleted: its follows (both ways) and its cached document go."""
    result = await db.execute(
        delete(Follow)
        .where(or_(Follow.follower_uri == uri, Follow.followed_uri == uri))
        .execution_options(synchronize_session=False)
    )
    await db.execute(delete(RemoteActor).where(RemoteActor.uri == uri).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
