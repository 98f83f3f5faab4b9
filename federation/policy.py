"""Domain policy: which servers this instance federates with, checked before any key is fetched.

A domain is refused when it, or a domain it belongs to, is blocked (``FederatedDomain.blocked``:
blocking ``example.org`` also blocks ``social.example.org``). With ``federation_allowlist_only``, a domain is
accepted only when it, or a parent domain, is marked ``allowed``. The inbox, outbound fetches and deliveries all
ask :func:`check_domain`.

A remote actor suspended by an admin (``RemoteActor.suspended_at``) is refused too: :func:`check_url` refuses its
id and its key ids (the inbox asks it before any key is fetched), and :func:`check_inbox` its personal inbox.
What blocking a domain or suspending an actor does to existing follows and queues is in ``federation.admin``.

The inbox and the outbound client ask a :class:`PolicyCache` instead (one per ``FederationClient``): the block and
allow decisions, the allow-list setting and the suspended actors, read in one go and kept for
``POLICY_CACHE_SECONDS``. A commit that changes a ``FederatedDomain``, the admins' site settings or an actor's
suspension through a session of the same factory clears it at once (:func:`watch`); other processes (the worker,
a second web process) see such a change within those few seconds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urlsplit

from sqlalchemy import event, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from instance.models import FederatedDomain, RemoteActor, SiteSettings
from instance.services.instance_settings import effective
from instance.settings import Settings


class DomainRefused(Exception):
    """Federation with this domain is not allowed; ``reason`` says why (for logs and error bodies)."""

    def __init__(self, domain: str, reason: str) -> None:
        super().__init__(f"{domain}: {reason}")
        self.domain = domain
        self.reason = reason


class ActorSuspended(DomainRefused):
    """The remote actor is suspended by this instance's admins (its domain may be fine)."""

    def __init__(self, uri: str) -> None:
        super().__init__(domain_of(uri), "actor suspended by the administrators")
        self.uri = uri


def domain_of(url: str) -> str:
    """The lowercased host of ``url`` (without port), or ``""`` when it has none."""
    return (urlsplit(url).hostname or "").lower()


def covers(blocked: str, domain: str) -> bool:
    """Whether a decision about ``blocked`` applies to ``domain`` (itself or one of its subdomains)."""
    return domain == blocked or domain.endswith("." + blocked)


def _suffixes(domain: str) -> list[str]:
    """``a.b.example.org`` gives itself and every parent domain down to ``example.org``."""
    labels = domain.strip(".").split(".")
    return [".".join(labels[start:]) for start in range(max(1, len(labels) - 1))]


async def check_domain(db: AsyncSession, settings: Settings, domain: str) -> None:
    """Raise :class:`DomainRefused` if this instance does not federate with ``domain``."""
    domain = domain.lower()
    if not domain:
        raise DomainRefused(domain, "no host")
    rows = (await db.scalars(select(FederatedDomain).where(FederatedDomain.domain.in_(_suffixes(domain))))).all()
    blocked = [row for row in rows if row.blocked]
    if blocked:
        raise DomainRefused(domain, f"blocked: {blocked[0].reason}" if blocked[0].reason else "blocked")
    if not any(row.allowed for row in rows) and await allowlist_only(db, settings):
        raise DomainRefused(domain, "not on the allow-list")


async def allowlist_only(db: AsyncSession, settings: Settings) -> bool:
    """Whether the instance federates only with allowed domains (the admins' setting over the environment's)."""
    return (await effective(db, settings)).settings.federation_allowlist_only


async def check_url(db: AsyncSession, settings: Settings, url: str) -> None:
    """Refuse ``url`` when its domain is refused, or when it is (a key of) a suspended remote actor."""
    await check_domain(db, settings, domain_of(url))
    await check_actor(db, urldefrag(url).url)


async def check_actor(db: AsyncSession, uri: str) -> None:
    """Raise :class:`ActorSuspended` if the remote actor ``uri`` is suspended."""
    suspended = await db.scalar(
        select(RemoteActor.id).where(RemoteActor.uri == uri, RemoteActor.suspended_at.is_not(None))
    )
    if suspended is not None:
        raise ActorSuspended(uri)


async def check_inbox(db: AsyncSession, inbox: str) -> None:
    """Raise :class:`ActorSuspended` if ``inbox`` is the personal inbox of a suspended remote actor (a shared
    inbox serves other actors too, so it is not refused here)."""
    uri = await db.scalar(
        select(RemoteActor.uri).where(RemoteActor.inbox == inbox, RemoteActor.suspended_at.is_not(None)).limit(1)
    )
    if uri is not None:
        raise ActorSuspended(uri)


async def set_domain(
    db: AsyncSession, domain: str, *, blocked: bool | None = None, allowed: bool | None = None, reason: str = ""
) -> FederatedDomain:
    """Create or change the row of ``domain`` (block, unblock, allow); the caller commits."""
    domain = domain.strip().lower()
    row = await db.scalar(select(FederatedDomain).where(FederatedDomain.domain == domain))
    if row is None:
        row = FederatedDomain(domain=domain)
        db.add(row)
    if blocked is not None:
        row.blocked = blocked
    if allowed is not None:
        row.allowed = allowed
    if reason:
        row.reason = reason
    await db.flush()
    return row


# -- the cached policy -------------------------------------------------------------------------------------------

POLICY_CACHE_SECONDS = 5.0
CACHE_KEY = "federation_policy"
_CHANGED_KEY = "federation_policy_changed"


@dataclass(frozen=True)
class Snapshot:
    """The policy as read at one moment: reasons of blocked domains, allowed domains, the allow-list setting and
    the suspended actors' ids."""

    blocked: dict[str, str]
    allowed: frozenset[str]
    allowlist_only: bool
    suspended: frozenset[str]

    def check_domain(self, domain: str) -> None:
        domain = domain.lower()
        if not domain:
            raise DomainRefused(domain, "no host")
        suffixes = _suffixes(domain)
        for suffix in suffixes:
            if suffix in self.blocked:
                reason = self.blocked[suffix]
                raise DomainRefused(domain, f"blocked: {reason}" if reason else "blocked")
        if self.allowlist_only and not any(suffix in self.allowed for suffix in suffixes):
            raise DomainRefused(domain, "not on the allow-list")

    def check_url(self, url: str) -> None:
        self.check_domain(domain_of(url))
        uri = urldefrag(url).url
        if uri in self.suspended:
            raise ActorSuspended(uri)


async def read_snapshot(db: AsyncSession, settings: Settings) -> Snapshot:
    rows = (
        await db.execute(
            select(
                FederatedDomain.domain, FederatedDomain.blocked, FederatedDomain.allowed, FederatedDomain.reason
            ).where(or_(FederatedDomain.blocked.is_(True), FederatedDomain.allowed.is_(True)))
        )
    ).all()
    suspended = await db.scalars(select(RemoteActor.uri).where(RemoteActor.suspended_at.is_not(None)))
    return Snapshot(
        blocked={row.domain: row.reason for row in rows if row.blocked},
        allowed=frozenset(row.domain for row in rows if row.allowed),
        allowlist_only=await allowlist_only(db, settings),
        suspended=frozenset(suspended),
    )


class PolicyCache:
    """The domain policy of one instance, read at most every ``seconds`` and cleared by :meth:`clear`."""

    def __init__(self, settings: Settings, seconds: float = POLICY_CACHE_SECONDS) -> None:
        self.settings = settings
        self.seconds = seconds
        self._snapshot: Snapshot | None = None
        self._read_at = 0.0
        self._generation = 0
        self._lock = asyncio.Lock()

    def clear(self) -> None:
        self._snapshot = None
        self._generation += 1

    async def snapshot(self, db: AsyncSession) -> Snapshot:
        current = self._snapshot
        if current is not None and time.monotonic() - self._read_at < self.seconds:
            return current
        async with self._lock:
            current = self._snapshot
            if current is not None and time.monotonic() - self._read_at < self.seconds:
                return current  # read by the request that held the lock
            generation, started = self._generation, time.monotonic()
            current = await read_snapshot(db, self.settings)
            if generation == self._generation:  # not cleared while reading
                self._snapshot, self._read_at = current, started
            return current

    async def check_domain(self, db: AsyncSession, domain: str) -> None:
        (await self.snapshot(db)).check_domain(domain)

    async def check_url(self, db: AsyncSession, url: str) -> None:
        (await self.snapshot(db)).check_url(url)


def _changes_policy(target: object) -> bool:
    if isinstance(target, FederatedDomain | SiteSettings):
        return True
    if isinstance(target, RemoteActor):
        state = inspect(target)
        return bool(state.deleted or state.attrs.suspended_at.history.has_changes())
    return False


def watch(sessions: Any, cache: PolicyCache) -> None:
    """Have commits of ``sessions`` (an ``async_sessionmaker``) that change the policy clear ``cache``."""
    info = dict(sessions.kw.get("info") or {})
    info[CACHE_KEY] = cache
    sessions.configure(info=info)


@event.listens_for(Session, "after_flush")
def _note_change(session: Session, _context: object) -> None:
    if CACHE_KEY in session.info and any(
        _changes_policy(target) for target in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info[_CHANGED_KEY] = True


@event.listens_for(Session, "after_commit")
def _clear_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED_KEY, False):
        session.info[CACHE_KEY].clear()


@event.listens_for(Session, "after_soft_rollback")
def _forget_change(session: Session, _previous: object) -> None:
    if not session.in_transaction():
        session.info.pop(_CHANGED_KEY, None)
