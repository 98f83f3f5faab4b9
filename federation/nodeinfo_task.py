"""Reading which software other servers run: the worker fetches the NodeInfo of each newly seen domain.

A domain is "seen" when a delivery goes to it or one of its actors is cached; the task gives each such domain a
``FederatedDomain`` row, then reads ``/.well-known/nodeinfo`` and the 2.1 (else 2.0) document it links to, through
the federation client (so the domain policy and the address checks apply), and stores the software's name and
version. The well-known document is asked on the origin of one of the domain's actors (or inboxes), with its
scheme and port, and on ``https://<domain>`` when none is known. The task looks for domains to read once a
minute (the first time a minute after the worker starts), not at every round of the worker. A domain is read
again after a week; one that did not answer is tried again then too. Blocked and unavailable domains are left
alone (an unavailable one is read once it answers deliveries again). A domain is claimed by setting
``nodeinfo_checked_at`` first, so several workers never read it at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from federation.client import FederationClient, FetchError
from federation.delivery import domain_rows
from federation.discovery import NODEINFO_SCHEMAS
from instance.models import Delivery, FederatedDomain, RemoteActor, utcnow

log = logging.getLogger(__name__)

REFRESH_AFTER = dt.timedelta(days=7)
LOOK_EVERY = 60.0  # seconds between two looks for domains to read
FIELD_LENGTH = 100


def nodeinfo_link(document: dict[str, Any]) -> str | None:
    """The address of the newest NodeInfo version this software reads (2.1, then 2.0) in a well-known document."""
    links = document.get("links")
    found: dict[str, str] = {}
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and isinstance(link.get("rel"), str) and isinstance(link.get("href"), str):
            found[link["rel"].rstrip("#/")] = link["href"]
    for schema in NODEINFO_SCHEMAS.values():
        if schema in found:
            return found[schema]
    return None


def software_of(document: dict[str, Any]) -> tuple[str, str]:
    """``(name, version)`` from a NodeInfo document, each cut to fit its column ("" when missing)."""
    software = document.get("software")
    if not isinstance(software, dict):
        return "", ""
    name, version = software.get("name"), software.get("version")
    return (
        name.strip()[:FIELD_LENGTH] if isinstance(name, str) else "",
        version.strip()[:FIELD_LENGTH] if isinstance(version, str) else "",
    )


class NodeInfoTask:
    """Worker task: give newly seen domains a row, and read the NodeInfo of the domains due for it."""

    name = "nodeinfo"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: FederationClient,
        batch: int = 5,
        interval: float = LOOK_EVERY,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.batch = batch
        self.interval = interval
        self.next_look = time.monotonic() + interval

    async def run_once(self) -> int:
        """Every ``interval`` seconds (the first time ``interval`` after start), read up to ``batch`` domains;
        look again at once while there are more."""
        if time.monotonic() < self.next_look:
            return 0
        async with self.sessions() as db:
            await self._note_new_domains(db)
            claimed = await self._claim(db)
            await db.commit()
        for domain_id, domain in claimed:
            await self.read(domain_id, domain)
        self.next_look = time.monotonic() + (0 if len(claimed) == self.batch else self.interval)
        return len(claimed)

    @staticmethod
    async def _note_new_domains(db: AsyncSession) -> None:
        known = select(FederatedDomain.id).where(FederatedDomain.domain == RemoteActor.domain).exists()
        new = (await db.scalars(select(RemoteActor.domain).where(~known).distinct().limit(100))).all()
        await domain_rows(db, set(new))

    async def _claim(self, db: AsyncSession) -> list[tuple[int, str]]:
        now = utcnow()
        due = (
            FederatedDomain.blocked.is_(False)
            & FederatedDomain.unavailable_since.is_(None)
            & or_(
                FederatedDomain.nodeinfo_checked_at.is_(None), FederatedDomain.nodeinfo_checked_at < now - REFRESH_AFTER
            )
        )
        candidates = (
            await db.execute(
                select(FederatedDomain.id, FederatedDomain.domain, FederatedDomain.nodeinfo_checked_at)
                .where(due)
                .order_by(FederatedDomain.nodeinfo_checked_at.is_not(None), FederatedDomain.nodeinfo_checked_at)
                .limit(self.batch)
            )
        ).all()
        claimed = []
        for domain_id, domain, checked in candidates:
            unchanged = (
                FederatedDomain.nodeinfo_checked_at.is_(None)
                if checked is None
                else FederatedDomain.nodeinfo_checked_at == checked
            )
            result = await db.execute(
                update(FederatedDomain)
                .where(FederatedDomain.id == domain_id, unchanged)
                .values(nodeinfo_checked_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:  # another worker did not take it first
                claimed.append((domain_id, domain))
        return claimed

    async def origin(self, domain: str) -> str:
        """``scheme://host[:port]`` of a known actor (else inbox) of ``domain``; ``https://<domain>`` if none."""
        async with self.sessions() as db:
            url = await db.scalar(select(RemoteActor.uri).where(RemoteActor.domain == domain).limit(1))
            if url is None:
                url = await db.scalar(select(Delivery.inbox).where(Delivery.domain == domain).limit(1))
        parts = urlsplit(url or "")
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme in ("http", "https") and (parts.hostname or "").lower() == domain:
            return f"{parts.scheme}://{domain}" + (f":{port}" if port else "")
        return f"https://{domain}"

    async def read(self, domain_id: int, domain: str) -> None:
        """Fetch the NodeInfo of ``domain`` and store its software; a failure is logged and left for next week."""
        try:
            well_known = await self.client.fetch_jrd(f"{await self.origin(domain)}/.well-known/nodeinfo")
            link = nodeinfo_link(well_known)
            if link is None:
                raise FetchError("no NodeInfo 2.1 or 2.0 link")
            name, version = software_of(await self.client.fetch_jrd(link))
        except (FetchError, httpx.HTTPError, TimeoutError, OSError) as error:
            log.info("NodeInfo of %s not read: %s", domain, error)
            return
        async with self.sessions() as db:
            row = await db.get(FederatedDomain, domain_id)
            if row is not None:
                row.software, row.software_version = name, version
                await db.commit()
