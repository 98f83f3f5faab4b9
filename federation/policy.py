"""Domain policy: which servers this instance federates with, checked before any key is fetched.

A domain is refused when it, or a domain it belongs to, is blocked (``FederatedDomain.blocked``:
blocking ``example.org`` also blocks ``social.example.org``). With ``federation_allowlist_only``, a domain is
accepted only when it, or a parent domain, is marked ``allowed``. The inbox, outbound fetches and deliveries all
ask :func:`check_domain`.

A remote actor suspended by an admin (``RemoteActor.suspended_at``) is refused too: :func:`check_url` refuses its
id and its key ids (the inbox asks it before any key is fetched), and :func:`check_inbox` its personal inbox.
What blocking a domain or suspending an actor does to existing follows and queues is in ``federation.admin``.
"""

from __future__ import annotations

from urllib.parse import urldefrag, urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import FederatedDomain, RemoteActor
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
