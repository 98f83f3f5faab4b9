"""Domain policy: which servers this instance federates with, checked before any key is fetched.

A domain is refused when it, or a domain it belongs to, is blocked (``FederatedDomain.blocked``:
blocking ``example.org`` also blocks ``social.example.org``). With ``federation_allowlist_only``, a domain is
accepted only when it, or a parent domain, is marked ``allowed``. The inbox, outbound fetches and deliveries all
ask :func:`check_domain`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.models import FederatedDomain
from instance.settings import Settings


class DomainRefused(Exception):
    """Federation with this domain is not allowed; ``reason`` says why (for logs and error bodies)."""

    def __init__(self, domain: str, reason: str) -> None:
        super().__init__(f"{domain}: {reason}")
        self.domain = domain
        self.reason = reason


def domain_of(url: str) -> str:
    """The lowercased host of ``url`` (without port), or ``""`` when it has none."""
    return (urlsplit(url).hostname or "").lower()


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
    if settings.federation_allowlist_only and not any(row.allowed for row in rows):
        raise DomainRefused(domain, "not on the allow-list")


async def check_url(db: AsyncSession, settings: Settings, url: str) -> None:
    await check_domain(db, settings, domain_of(url))


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
