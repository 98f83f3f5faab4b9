"""Outbound delivery: an activity becomes one ``Delivery`` row per distinct inbox, sent by the worker.

The attempt count is incremented and committed before each attempt, so a crash never hides an attempt. A 2xx
answer is success; a 4xx other than 401, 408 and 429 is final; anything else (5xx, timeouts, refused
connections) is retried with exponential backoff and jitter (Mastodon's: attempt⁴ + 15 s + jitter, 16 tries over
about two days), or after ``Retry-After`` when the server gives one. A domain failing for a week is marked
unavailable: its deliveries wait, and one is tried a day until the domain answers again. Rows are claimed with
``FOR UPDATE SKIP LOCKED`` and a lock-until time, so several workers never send the same row at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
from collections.abc import Iterable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from federation import policy
from federation.client import FederationClient, FetchError, PostResult
from federation.local_keys import Owner, instance_owner, owner_of
from instance.models import Association, Delivery, DeliveryState, FederatedDomain, User, utcnow
from instance.models.federation import DELETED_KIND, INSTANCE_OWNER, ActorKey
from instance.settings import Settings
from instance.worker import claim

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 16
PARALLEL = 8  # inboxes of one batch served at once
RETRYABLE_4XX = frozenset({401, 408, 429})
UNAVAILABLE_AFTER = dt.timedelta(days=7)
PROBE_INTERVAL = dt.timedelta(days=1)
MAX_RETRY_AFTER = dt.timedelta(days=1)


def backoff(attempts: int, jitter: float | None = None) -> dt.timedelta:
    """The wait after failed attempt number ``attempts`` (from 1): attempts⁴ + 15 s + up to 10·(attempts+1) s."""
    share = random.random() if jitter is None else jitter  # noqa: S311 (jitter, not secrecy)
    return dt.timedelta(seconds=attempts**4 + 15 + share * 10 * (attempts + 1))


def retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as a wait, capped at a day; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdecimal():
        wait = dt.timedelta(seconds=int(value))
    else:
        try:
            wait = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return max(dt.timedelta(0), min(wait, MAX_RETRY_AFTER))


async def enqueue(db: AsyncSession, activity: dict[str, Any], signer: str, inboxes: Iterable[str]) -> list[Delivery]:
    """Queue ``activity`` for each distinct inbox, signed by the local actor ``signer`` (an ``ActorKey.owner``).

    The rows are sent only if the caller's transaction commits.
    """
    body = json.dumps(activity, ensure_ascii=False, separators=(",", ":"))
    activity_id = str(activity["id"])
    rows = []
    for inbox in dict.fromkeys(inboxes):
        exists = await db.scalar(
            select(Delivery.id).where(Delivery.activity_id == activity_id, Delivery.inbox == inbox)
        )
        if exists is None:
            row = Delivery(
                activity_id=activity_id, inbox=inbox, domain=policy.domain_of(inbox), signer=signer, body=body
            )
            db.add(row)
            rows.append(row)
    await db.flush()
    return rows


async def signer_owner(db: AsyncSession, settings: Settings, signer: str) -> Owner:
    """The key owner named by ``signer`` (``instance``, ``user:ID`` or ``association:ID``)."""
    if signer == INSTANCE_OWNER:
        return instance_owner(settings)
    kind, _, raw = signer.partition(":")
    if kind == DELETED_KIND:  # the keys of a deleted account, kept to send its last activities
        key = await db.scalar(select(ActorKey).where(ActorKey.owner == signer))
        if key is None:
            raise LookupError(f"no keys {signer}")
        return Owner(signer, key.rsa_key_id.removesuffix("#main-key"))
    subject: User | Association | None = None
    if raw.isdecimal() and kind == "user":
        subject = await db.get(User, int(raw))
    elif raw.isdecimal() and kind == "association":
        subject = await db.get(Association, int(raw))
    if subject is None:
        raise LookupError(f"no local actor {signer}")
    return owner_of(settings, subject)


async def domain_row(db: AsyncSession, domain: str) -> FederatedDomain:
    """The row of ``domain``, created when missing (race-safe)."""
    row = await db.scalar(select(FederatedDomain).where(FederatedDomain.domain == domain))
    if row is not None:
        return row
    row = FederatedDomain(domain=domain)
    try:
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:
        found = await db.scalar(select(FederatedDomain).where(FederatedDomain.domain == domain))
        if found is None:
            raise
        return found
    return row


async def record_success(db: AsyncSession, domain: FederatedDomain, now: dt.datetime) -> None:
    """The domain answered: it is available again, and deliveries that waited for it are due now."""
    was_unavailable = domain.unavailable_since is not None
    domain.last_success_at = now
    domain.failing_since = None
    domain.unavailable_since = None
    if was_unavailable:
        await db.execute(
            update(Delivery)
            .where(Delivery.domain == domain.domain, Delivery.state == DeliveryState.PENDING)
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )


def record_failure(domain: FederatedDomain, now: dt.datetime) -> None:
    domain.last_failure_at = now
    domain.failing_since = domain.failing_since or now
    if domain.unavailable_since is None and now - domain.failing_since >= UNAVAILABLE_AFTER:
        domain.unavailable_since = now
        log.warning("domain %s failed for a week: marked unavailable", domain.domain)


def waits_for_domain(domain: FederatedDomain, now: dt.datetime) -> dt.datetime | None:
    """When an unavailable domain may be probed next (None: try now)."""
    if domain.unavailable_since is None or domain.last_failure_at is None:
        return None
    probe = domain.last_failure_at + PROBE_INTERVAL
    return probe if probe > now else None


class DeliveryTask:
    """Worker task: send the due deliveries.

    A round waits for its slowest inbox (up to the client's 30 s bound), so the worker runs ``loops`` rounds side
    by side: a server that holds its connection holds up one round, while the others go on sending. In one
    process, rounds claim one after the other and never take an inbox another round is sending to, so each inbox
    still gets its activities in the order they were queued.
    """

    name = "deliveries"
    loops = 4

    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], client: FederationClient, batch: int = 20
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.client = client
        self.batch = batch
        self._claiming = asyncio.Lock()  # SQLite has no SKIP LOCKED: two rounds must not claim at the same time
        self._sending: set[str] = set()  # the inboxes this process's rounds are sending to

    async def run_once(self) -> int:
        async with self._claiming:
            async with self.sessions() as db:
                due = (Delivery.state == DeliveryState.PENDING) & (Delivery.next_attempt_at <= utcnow())
                if self._sending:
                    due = due & Delivery.inbox.not_in(self._sending)
                lock = self.settings.worker_lock_seconds
                rows = await claim(db, Delivery, due, Delivery.next_attempt_at, limit=self.batch, lock_seconds=lock)
            by_inbox: dict[str, list[int]] = {}
            for row in rows:  # claimed in order: each inbox gets its activities in the order they were queued
                by_inbox.setdefault(row.inbox, []).append(row.id)
            self._sending.update(by_inbox)
        parallel = asyncio.Semaphore(PARALLEL)

        async def in_order(ids: list[int]) -> None:
            async with parallel:
                for delivery_id in ids:
                    await self.deliver(delivery_id)

        try:
            await asyncio.gather(*(in_order(ids) for ids in by_inbox.values()))  # a slow server holds up only itself
        finally:
            self._sending.difference_update(by_inbox)
        return len(rows)

    async def deliver(self, delivery_id: int) -> None:
        async with self.sessions() as db:
            row = await db.get(Delivery, delivery_id)
            if row is None or row.state != DeliveryState.PENDING:
                return
            now = utcnow()
            domain = await domain_row(db, row.domain)
            try:
                await self.client.policy.check_domain(db, row.domain)
                owner = await signer_owner(db, self.settings, row.signer)
            except (policy.DomainRefused, LookupError) as error:
                self._final(row, f"refused: {error}")
                await db.commit()
                return
            wait = waits_for_domain(domain, now)
            if wait is not None:
                row.next_attempt_at, row.locked_until = wait, None
                await db.commit()
                return
            row.attempts += 1
            await db.commit()  # the attempt is counted before it is made
            await self._attempt(db, row, domain, owner)
            row.locked_until = None
            await db.commit()

    async def _attempt(self, db: AsyncSession, row: Delivery, domain: FederatedDomain, owner: Owner) -> None:
        try:
            keys = await self.client.signing_keys(owner)
            result = await self.client.post(row.inbox, row.body.encode("utf-8"), keys)
        except FetchError as error:
            self._final(row, f"refused: {error.reason}")
            return
        except (httpx.HTTPError, TimeoutError) as error:
            record_failure(domain, utcnow())
            self._retry(row, f"{type(error).__name__}: {error}", None)
            return
        self._answered(row, result)
        now = utcnow()
        if result.status >= 500 or result.status in RETRYABLE_4XX:
            record_failure(domain, now)
        else:
            await record_success(db, domain, now)

    def _answered(self, row: Delivery, result: PostResult) -> None:
        row.last_status = result.status
        if 200 <= result.status < 300:
            row.state, row.sent_at, row.last_error = DeliveryState.SENT, utcnow(), ""
        elif 400 <= result.status < 500 and result.status not in RETRYABLE_4XX:
            self._final(row, f"HTTP {result.status}: {result.text[:500]}")
        else:
            self._retry(row, f"HTTP {result.status}: {result.text[:500]}", result.retry_after)

    @staticmethod
    def _final(row: Delivery, error: str) -> None:
        row.state, row.last_error, row.locked_until = DeliveryState.FAILED, error[:2000], None
        log.info("delivery %s to %s failed for good: %s", row.activity_id, row.inbox, error)

    @staticmethod
    def _retry(row: Delivery, error: str, retry_after_header: str | None) -> None:
        row.last_error = error[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            DeliveryTask._final(row, f"out of attempts; last error: {error}")
            return
        now = utcnow()
        row.next_attempt_at = now + (retry_after(retry_after_header, now) or backoff(row.attempts))
        log.info("delivery %s to %s will be retried: %s", row.activity_id, row.inbox, error)
