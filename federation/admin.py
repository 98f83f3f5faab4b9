"""What the instance's admins do about other servers: block, unblock and allow domains, suspend remote actors, and
list what the instance knows (domains with their software and delivery health, remote actors).

Blocking a domain (and its subdomains) or suspending a remote actor also cuts what exists (``docs/FEDERATION.md``,
"Domain blocks" and "Remote actor suspension"): the follows with its actors are removed both ways, its pending
deliveries fail ("blocked" / "suspended") and its received activities not yet handled are ignored. Time entries
stay: they are the associations' records. Lifting a block or a suspension restores nothing; follows start again
from a new Follow. Every function checks that the actor is an admin and works in the caller's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from federation.policy import covers, domain_of, set_domain
from instance.errors import NotFound, ValidationError
from instance.i18n import lazy_gettext
from instance.models import (
    Association,
    Delivery,
    DeliveryState,
    FederatedDomain,
    Follow,
    InboxItem,
    InboxState,
    Membership,
    RemoteActor,
    User,
    utcnow,
)
from instance.services.admin_users import require_admin
from instance.settings import Settings

PAGE_SIZE = 25
MAX_REASON = 2000
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class Cut:
    """What a block or a suspension removed: follows deleted, deliveries failed, received activities ignored."""

    follows: int
    deliveries: int
    activities: int


def clean_domain(settings: Settings, text: str) -> str:
    """The domain an admin typed (or a URL, or ``@name@domain``), lowercased; ``ValidationError`` if unusable."""
    text = text.strip().lower()
    if "://" in text:
        text = domain_of(text)
    text = text.rsplit("@", 1)[-1].strip(".")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        text = ""
    if not DOMAIN_RE.match(text):
        raise ValidationError({"domain": lazy_gettext("Please give a domain name, such as example.org.")})
    if covers(text, domain_of(settings.base_url)):
        raise ValidationError({"domain": lazy_gettext("This is this instance's own domain.")})
    return text


def _reason(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_REASON:
        raise ValidationError({"reason": lazy_gettext("Use at most %(n)s characters.", n=MAX_REASON)})
    return text


def _on(column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None], domain: str) -> ColumnElement[bool]:
    """A cheap SQL filter for URLs or hosts that may be on ``domain`` (checked exactly in Python after)."""
    return column.contains(domain, autoescape=True)


async def _end_memberships(db: AsyncSession, user_ids: list[int], association_ids: list[int]) -> None:
    """Memberships of remote people (mirror accounts) here, and of local volunteers in remote (mirror)
    associations, end; their time entries stay."""
    if user_ids or association_ids:
        await db.execute(
            delete(Membership)
            .where(or_(Membership.user_id.in_(user_ids), Membership.association_id.in_(association_ids)))
            .execution_options(synchronize_session=False)
        )


# -- domains -----------------------------------------------------------------------------------------------


async def cut_domain(db: AsyncSession, domain: str, note: str) -> Cut:
    """Remove follows with actors on ``domain`` (or a subdomain), fail its deliveries, ignore its activities."""
    follows = 0
    candidates = await db.scalars(
        select(Follow).where(or_(_on(Follow.follower_uri, domain), _on(Follow.followed_uri, domain)))
    )
    for row in candidates.all():
        if covers(domain, domain_of(row.follower_uri)) or covers(domain, domain_of(row.followed_uri)):
            await db.delete(row)
            follows += 1
    pending = await db.scalars(
        select(Delivery).where(Delivery.state == DeliveryState.PENDING, _on(Delivery.domain, domain))
    )
    deliveries = 0
    for delivery in pending.all():
        if covers(domain, delivery.domain):
            delivery.state, delivery.last_error, delivery.locked_until = DeliveryState.FAILED, note, None
            deliveries += 1
    people = await db.execute(select(User.id, User.actor_uri).where(_on(User.actor_uri, domain)))
    groups = await db.execute(select(Association.id, Association.actor_uri).where(_on(Association.actor_uri, domain)))
    await _end_memberships(
        db,
        [user_id for user_id, uri in people.all() if covers(domain, domain_of(uri or ""))],
        [association_id for association_id, uri in groups.all() if covers(domain, domain_of(uri or ""))],
    )
    received = await db.scalars(
        select(InboxItem).where(InboxItem.state == InboxState.RECEIVED, _on(InboxItem.actor_uri, domain))
    )
    activities = 0
    for item in received.all():
        if covers(domain, domain_of(item.actor_uri)):
            _ignore(item, note)
            activities += 1
    await db.flush()
    return Cut(follows, deliveries, activities)


def _ignore(item: InboxItem, note: str) -> None:
    item.state, item.last_error, item.locked_until, item.processed_at = InboxState.IGNORED, note, None, utcnow()


async def block_domain(db: AsyncSession, settings: Settings, admin: User, domain: str, reason: str) -> Cut:
    """Block ``domain`` and its subdomains, with a reason kept for the admins; cut what exists with it."""
    require_admin(admin)
    domain, reason = clean_domain(settings, domain), _reason(reason)
    row = await set_domain(db, domain, blocked=True)
    row.reason = reason
    return await cut_domain(db, domain, f"blocked: {reason}" if reason else "blocked")


async def unblock_domain(db: AsyncSession, settings: Settings, admin: User, domain: str) -> FederatedDomain:
    require_admin(admin)
    return await set_domain(db, clean_domain(settings, domain), blocked=False)


async def allow_domain(
    db: AsyncSession, settings: Settings, admin: User, domain: str, allowed: bool, reason: str = ""
) -> FederatedDomain:
    """Put ``domain`` on the allow-list (or take it off); the list matters in allow-list mode."""
    require_admin(admin)
    row = await set_domain(db, clean_domain(settings, domain), allowed=allowed)
    if allowed and reason.strip():
        row.reason = _reason(reason)
    return row


@dataclass(frozen=True)
class KnownDomain:
    row: FederatedDomain
    waiting: int  # deliveries pending
    failed: int  # deliveries failed for good
    actors: int  # remote actors known on it


@dataclass(frozen=True)
class DomainsPage:
    domains: list[KnownDomain]
    page: int
    pages: int
    total: int


async def known_domains(db: AsyncSession, admin: User, q: str = "", page: int = 1) -> DomainsPage:
    """Known domains whose name contains ``q``, in alphabetical order, with their delivery counts."""
    require_admin(admin)
    condition: ColumnElement[bool] = FederatedDomain.domain.contains(q.strip().lower(), autoescape=True)
    total = int(await db.scalar(select(func.count(FederatedDomain.id)).where(condition)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    query = select(FederatedDomain).where(condition).order_by(FederatedDomain.domain)
    rows = list(await db.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    names = [row.domain for row in rows]
    counts: dict[tuple[str, DeliveryState], int] = {}
    grouped = await db.execute(
        select(Delivery.domain, Delivery.state, func.count(Delivery.id))
        .where(Delivery.domain.in_(names), Delivery.state != DeliveryState.SENT)
        .group_by(Delivery.domain, Delivery.state)
    )
    for name, state, count in grouped.all():
        counts[(name, state)] = count
    per_domain = await db.execute(
        select(RemoteActor.domain, func.count(RemoteActor.id))
        .where(RemoteActor.domain.in_(names))
        .group_by(RemoteActor.domain)
    )
    actors = {name: count for name, count in per_domain.all()}
    found = [
        KnownDomain(
            row,
            counts.get((row.domain, DeliveryState.PENDING), 0),
            counts.get((row.domain, DeliveryState.FAILED), 0),
            actors.get(row.domain, 0),
        )
        for row in rows
    ]
    return DomainsPage(found, page, pages, total)


# -- remote actors -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorsPage:
    actors: list[RemoteActor]
    page: int
    pages: int
    total: int


async def remote_actors(
    db: AsyncSession, admin: User, q: str = "", page: int = 1, suspended: bool = False
) -> ActorsPage:
    """Remote actors whose address, handle or name contain every word of ``q`` (only suspended ones if asked)."""
    require_admin(admin)
    condition: ColumnElement[bool] = RemoteActor.id.is_not(None)
    if suspended:
        condition &= RemoteActor.suspended_at.is_not(None)
    for word in q.lower().lstrip("@").replace("@", " ").split()[:8]:
        condition &= or_(
            RemoteActor.uri.icontains(word, autoescape=True),
            RemoteActor.preferred_username.icontains(word, autoescape=True),
            RemoteActor.name.icontains(word, autoescape=True),
        )
    total = int(await db.scalar(select(func.count(RemoteActor.id)).where(condition)) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    query = select(RemoteActor).where(condition).order_by(RemoteActor.domain, RemoteActor.preferred_username)
    actors = list(await db.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return ActorsPage(actors, page, pages, total)


async def _actor(db: AsyncSession, actor_id: int) -> RemoteActor:
    actor = await db.get(RemoteActor, actor_id)
    if actor is None:
        raise NotFound(lazy_gettext("This remote account is not known here."))
    return actor


async def actor_id_of(db: AsyncSession, admin: User, uri: str) -> int:
    """The id of the remote actor at ``uri`` (a report names it by its address)."""
    require_admin(admin)
    found = await db.scalar(select(RemoteActor.id).where(RemoteActor.uri == uri.strip()))
    if found is None:
        raise NotFound(lazy_gettext("This remote account is not known here."))
    return found


async def suspend_actor(db: AsyncSession, admin: User, actor_id: int, reason: str) -> tuple[RemoteActor, Cut]:
    """Suspend a remote actor: its activities are refused from now on, and what exists with it is cut."""
    require_admin(admin)
    actor = await _actor(db, actor_id)
    actor.suspension_reason = _reason(reason)
    actor.suspended_at = actor.suspended_at or utcnow()
    follows = list(
        await db.scalars(select(Follow).where(or_(Follow.follower_uri == actor.uri, Follow.followed_uri == actor.uri)))
    )
    for row in follows:
        await db.delete(row)
    await _end_memberships(
        db,
        list(await db.scalars(select(User.id).where(User.actor_uri == actor.uri))),
        list(await db.scalars(select(Association.id).where(Association.actor_uri == actor.uri))),
    )
    note = "suspended"
    failed = await db.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.PENDING, Delivery.inbox == actor.inbox)
        .values(state=DeliveryState.FAILED, last_error=note, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    received = list(
        await db.scalars(
            select(InboxItem).where(InboxItem.state == InboxState.RECEIVED, InboxItem.actor_uri == actor.uri)
        )
    )
    for item in received:
        _ignore(item, note)
    await db.flush()
    return actor, Cut(len(follows), int(getattr(failed, "rowcount", 0) or 0), len(received))


async def unsuspend_actor(db: AsyncSession, admin: User, actor_id: int) -> RemoteActor:
    require_admin(admin)
    actor = await _actor(db, actor_id)
    actor.suspended_at, actor.suspension_reason = None, ""
    await db.flush()
    return actor
