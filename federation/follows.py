"""Follows over federation, both ways, as ``Follow`` rows with one state (pending, accepted, rejected).

Following an association is joining it (PROTOCOL.md "Membership"), so each Follow row goes with a
``Membership``. A remote actor follows a local association: it gets a mirror ``User`` row and joins, at once when
membership is open, else when a manager accepts the request on the members page; the association may later
remove the member (a ``Reject``); the follower leaves with ``Undo``. A local volunteer joins a remote (mirrored)
association: the Follow and the membership stay pending until the association's ``Accept`` or ``Reject``
arrives, taken only from that association. Every function works in the caller's transaction; deliveries are
queued in it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from federation import activities, delivery, mirrors, urls
from federation.actors import group_document
from federation.local_keys import actor_key, owner_of
from instance.models import (
    Association,
    Follow,
    FollowState,
    Handle,
    Membership,
    MembershipStatus,
    RemoteActor,
    TimeEntry,
    User,
    utcnow,
)
from instance.models.federation import association_owner, user_owner
from instance.services import membership as membership_service
from instance.services.access import membership_of
from instance.services.account_settings import FORMER_MEMBER
from instance.settings import Settings


async def _inbox_of(db: AsyncSession, uri: str) -> list[str]:
    actor = await db.scalar(select(RemoteActor).where(RemoteActor.uri == uri))
    return [actor.delivery_inbox] if actor is not None else []


async def _send_answer(
    db: AsyncSession,
    settings: Settings,
    kind: str,
    association: Association,
    row: Follow,
    follower: RemoteActor | None = None,
) -> None:
    actor_id = urls.association_actor(settings, association.handle)
    activity = activities.answer(kind, actor_id, row.activity_id, row.follower_uri, actor_id)
    inboxes = [follower.delivery_inbox] if follower is not None else await _inbox_of(db, row.follower_uri)
    await delivery.enqueue(db, activity, association_owner(association.id), inboxes)


# -- remote followers of a local association -------------------------------------------------------------


async def receive_follow(
    db: AsyncSession, settings: Settings, follower: RemoteActor, association: Association, activity_id: str
) -> Follow:
    """Record a Follow of ``association``: the follower becomes a member, at once when membership is open, else
    when a manager accepts the request (``membership.approve``); the answer is sent then."""
    followed = urls.association_actor(settings, association.handle)
    row = await db.scalar(select(Follow).where(Follow.follower_uri == follower.uri, Follow.followed_uri == followed))
    person = await mirrors.person_for(db, follower)
    membership = await membership_of(db, person, association)
    if membership is None:
        membership = await membership_service.join(db, settings, person, association)
    if row is None:  # the row is written once its values are known: one statement, not one per value
        row = Follow(follower_uri=follower.uri, followed_uri=followed, association_id=association.id)
        db.add(row)
    row.activity_id, row.user_id = activity_id, person.id
    row.state = FollowState.ACCEPTED if membership.status == MembershipStatus.ACTIVE else FollowState.PENDING
    row.decided_at = utcnow() if row.state == FollowState.ACCEPTED else None
    await db.flush()
    if row.state == FollowState.ACCEPTED:  # also answers a repeated Follow of an accepted follower
        await _send_answer(db, settings, "Accept", association, row, follower)
    return row


async def answer_member(
    db: AsyncSession, settings: Settings, association: Association, person: User, accepted: bool
) -> None:
    """A manager decided on a remote person's membership (or removed them): their Follow is answered."""
    followed = urls.association_actor(settings, association.handle)
    row = await db.scalar(
        select(Follow).where(Follow.follower_uri == person.actor_uri, Follow.followed_uri == followed)
    )
    if row is None:
        return
    row.state = FollowState.ACCEPTED if accepted else FollowState.REJECTED
    row.decided_at = utcnow()
    await _send_answer(db, settings, "Accept" if accepted else "Reject", association, row)


async def follower_inboxes(db: AsyncSession, association: Association) -> list[str]:
    """Where to deliver what the association publishes: its accepted followers' inboxes, shared ones folded."""
    actors = await db.scalars(
        select(RemoteActor)
        .join(Follow, Follow.follower_uri == RemoteActor.uri)
        .where(Follow.association_id == association.id, Follow.state == FollowState.ACCEPTED)
    )
    return list(dict.fromkeys(actor.delivery_inbox for actor in actors.all()))


async def announce_profile(db: AsyncSession, settings: Settings, association: Association) -> None:
    """Send an ``Update`` of the association's actor (profile and catalog changed) to its followers, once per
    transaction."""
    sent: set[int] = db.info.setdefault("profile_updates", set())
    if association.id in sent or association.actor_uri is not None:
        return
    sent.add(association.id)
    inboxes = await follower_inboxes(db, association)
    if not inboxes:
        return
    owner = owner_of(settings, association)
    document = group_document(settings, association, await actor_key(db, settings, owner))
    await delivery.enqueue(db, activities.update_actor(document), owner.owner, inboxes)


async def accepted_remote_followers(db: AsyncSession, association: Association) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(Follow)
        .where(Follow.association_id == association.id, Follow.state == FollowState.ACCEPTED)
    )
    return count or 0


# -- local volunteers following remote associations ------------------------------------------------------


async def follow_remote(db: AsyncSession, settings: Settings, user: User, target: RemoteActor) -> Follow:
    """Send a Follow from ``user`` to the remote association ``target`` (a membership request); the row waits
    for its answer."""
    follower = urls.user_actor(settings, user.handle)
    row = await db.scalar(select(Follow).where(Follow.follower_uri == follower, Follow.followed_uri == target.uri))
    activity = activities.follow(follower, target.uri)
    if row is None:
        row = Follow(follower_uri=follower, followed_uri=target.uri, user_id=user.id, activity_id=activity["id"])
        db.add(row)
    row.activity_id, row.state, row.decided_at = activity["id"], FollowState.PENDING, None
    await db.flush()
    await delivery.enqueue(db, activity, user_owner(user.id), [target.delivery_inbox])
    return row


async def unfollow_remote(db: AsyncSession, settings: Settings, user: User, followed_uri: str) -> None:
    """Leave a remote association (or withdraw the request): an ``Undo`` of the Follow is sent, and the row goes."""
    follower = urls.user_actor(settings, user.handle)
    row = await db.scalar(select(Follow).where(Follow.follower_uri == follower, Follow.followed_uri == followed_uri))
    if row is None:
        return
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
    if row is None or row.user_id is None or row.association_id is not None or row.followed_uri != actor_uri:
        return None
    row.state = FollowState.ACCEPTED if accepted else FollowState.REJECTED
    row.decided_at = utcnow()
    association = await mirrors.mirrored_association(db, actor_uri)
    membership = (
        await db.scalar(
            select(Membership).where(Membership.user_id == row.user_id, Membership.association_id == association.id)
        )
        if association is not None
        else None
    )
    if membership is not None and accepted:
        membership.status, membership.decided_at = MembershipStatus.ACTIVE, utcnow()
    elif membership is not None:
        await db.delete(membership)
    await db.flush()
    return row


async def undo_received(db: AsyncSession, actor_uri: str, follow_id: str | None, followed: str | None) -> bool:
    """An ``Undo`` of a Follow of a local association, taken only from the follower."""
    row = await _match(db, follow_id, actor_uri, followed)
    if row is None or row.association_id is None or row.follower_uri != actor_uri:
        return False
    await db.delete(row)
    await _end_memberships(db, actor_uri, row.association_id)
    return True


async def _end_memberships(db: AsyncSession, actor_uri: str, association_id: int | None = None) -> None:
    """A remote person left (or was deleted): their memberships here end; their entries stay."""
    person = await mirrors.mirrored_person(db, actor_uri)
    if person is None:
        return
    query = delete(Membership).where(Membership.user_id == person.id)
    if association_id is not None:
        query = query.where(Membership.association_id == association_id)
    await db.execute(query.execution_options(synchronize_session=False))


async def _forget_person(db: AsyncSession, uri: str) -> None:
    """A remote person deleted their account: their entries stay with the associations, without their name,
    and the row that stood for them goes."""
    person = await mirrors.mirrored_person(db, uri)
    if person is None:
        return
    await db.execute(
        update(TimeEntry)
        .where(TimeEntry.user_id == person.id)
        .values(user_id=None, participant_name=FORMER_MEMBER)
        .execution_options(synchronize_session=False)
    )
    handle = await db.get(Handle, person.handle)
    await db.delete(person)
    await db.flush()
    if handle is not None:
        await db.delete(handle)


async def forget_actor(db: AsyncSession, uri: str) -> int:
    """A remote actor was deleted: its follows (both ways) and its cached document go."""
    result = await db.execute(
        delete(Follow)
        .where(or_(Follow.follower_uri == uri, Follow.followed_uri == uri))
        .execution_options(synchronize_session=False)
    )
    await db.execute(delete(RemoteActor).where(RemoteActor.uri == uri).execution_options(synchronize_session=False))
    await _end_memberships(db, uri)
    await _forget_person(db, uri)
    return int(getattr(result, "rowcount", 0) or 0)
