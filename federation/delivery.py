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
import time
from collections.abc import Iterable
from dataclasses import dataclass
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
PARALLEL = 16  # inboxes of one round served at once
RECORD_BATCH = 16  # outcomes written together
RECORD_EVERY = 0.1  # seconds: past this, the next outcome is written with those waiting
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
        wait = dt.timedelta(seconds=int(value)) if len(value) < 10 else MAX_RETRY_AFTER  # past a day anyway
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


async def domain_rows(db: AsyncSession, names: set[str]) -> dict[str, FederatedDomain]:
    """The rows of the domains ``names``, those missing created (race-safe)."""
    found = await db.scalars(select(FederatedDomain).where(FederatedDomain.domain.in_(sorted(names))))
    rows = {row.domain: row for row in found.all()}
    for name in sorted(names - rows.keys()):
        row = FederatedDomain(domain=name)
        try:
            async with db.begin_nested():
                db.add(row)
        except IntegrityError:  # another worker made it first
            made = await db.scalar(select(FederatedDomain).where(FederatedDomain.domain == name))
            if made is None:
                raise
            row = made
        rows[name] = row
    return rows


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


@dataclass(frozen=True)
class _Send:
    """One delivery to make, read from its row before the network is used."""

    id: int
    inbox: str
    domain: str
    body: bytes
    owner: Owner


@dataclass(frozen=True)
class _Outcome:
    send: _Send
    result: PostResult | None = None  # the receiver answered
    error: str = ""  # it did not: why
    refused: bool = False  # this instance will not send there (policy, address): final


class _Recorder:
    """Outcomes wait here and are written ``RECORD_BATCH`` at a time, or once ``RECORD_EVERY`` seconds have passed
    since the last write, and all that is left when the round ends: a crash repeats at most what was sent since the
    last write, and a fan-out does not pay a transaction per delivery."""

    def __init__(self, task: DeliveryTask) -> None:
        self.task = task
        self.waiting: list[_Outcome] = []
        self.lock = asyncio.Lock()
        self.written_at = time.monotonic()

    async def add(self, outcome: _Outcome) -> None:
        self.waiting.append(outcome)
        if len(self.waiting) >= RECORD_BATCH or time.monotonic() - self.written_at >= RECORD_EVERY:
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            outcomes, self.waiting = self.waiting, []
            self.written_at = time.monotonic()
            if outcomes:
                await self.task.record(outcomes)


class DeliveryTask:
    """Worker task: send the due deliveries.

    A round claims a batch, reads in one transaction what each delivery needs (its signer, its domain's state, the
    policy) and counts the attempts, then sends without holding a database connection (up to ``PARALLEL`` inboxes
    at once, each inbox's activities one after the other in the order they were queued), and writes the outcomes
    in small groups. A round waits for its slowest inbox (up to the client's 30 s bound), so the worker runs ``loops``
    rounds side by side; in one process they claim one after the other and never take an inbox another round is
    sending to.
    """

    name = "deliveries"
    loops = 4

    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], client: FederationClient, batch: int = 64
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
            inboxes = {row.inbox for row in rows}
            self._sending.update(inboxes)
        try:
            await self._deliver([row.id for row in rows])
        finally:
            self._sending.difference_update(inboxes)
        return len(rows)

    async def deliver(self, delivery_id: int) -> None:
        """Make one delivery now (tests use it to deliver in an order of their choosing)."""
        await self._deliver([delivery_id])

    async def _deliver(self, ids: list[int]) -> None:
        by_inbox: dict[str, list[_Send]] = {}
        for send in await self._prepare(ids):  # in claim order: each inbox gets its activities in queue order
            by_inbox.setdefault(send.inbox, []).append(send)
        if not by_inbox:
            return
        recorder = _Recorder(self)
        parallel = asyncio.Semaphore(PARALLEL)

        async def in_order(sends: list[_Send]) -> None:
            async with parallel:
                for send in sends:
                    await recorder.add(await self._send(send))

        try:
            await asyncio.gather(*(in_order(sends) for sends in by_inbox.values()))  # a slow server holds up itself
        finally:
            await recorder.flush()  # what is left, once every send of the round has ended

    async def _prepare(self, ids: list[int]) -> list[_Send]:
        """Read the rows, settle those that cannot be sent now, count an attempt for the others; commit."""
        async with self.sessions() as db:
            found = await db.scalars(
                select(Delivery).where(Delivery.id.in_(ids), Delivery.state == DeliveryState.PENDING)
            )
            order = {delivery_id: place for place, delivery_id in enumerate(ids)}
            rows = sorted(found.all(), key=lambda row: order[row.id])
            domains = await domain_rows(db, {row.domain for row in rows})
            snapshot = await self.client.policy.snapshot(db)
            owners: dict[str, Owner | LookupError] = {}
            now = utcnow()
            sends = []
            for row in rows:
                if row.signer not in owners:
                    try:
                        owners[row.signer] = await signer_owner(db, self.settings, row.signer)
                    except LookupError as error:
                        owners[row.signer] = error
                owner = owners[row.signer]
                try:
                    snapshot.check_domain(row.domain)
                    if isinstance(owner, LookupError):
                        raise owner
                except (policy.DomainRefused, LookupError) as error:
                    self._final(row, f"refused: {error}")
                    continue
                wait = waits_for_domain(domains[row.domain], now)
                if wait is not None:
                    row.next_attempt_at, row.locked_until = wait, None
                    continue
                row.attempts += 1  # counted, and committed, before the attempt is made
                sends.append(_Send(row.id, row.inbox, row.domain, row.body.encode("utf-8"), owner))
            await db.commit()
        return sends

    async def _send(self, send: _Send) -> _Outcome:
        try:
            keys = await self.client.signing_keys(send.owner)
            return _Outcome(send, await self.client.post(send.inbox, send.body, keys))
        except FetchError as error:
            return _Outcome(send, error=f"refused: {error.reason}", refused=True)
        except (httpx.HTTPError, TimeoutError) as error:
            return _Outcome(send, error=f"{type(error).__name__}: {error}")

    async def record(self, outcomes: list[_Outcome]) -> None:
        """Write what became of each delivery, and of each domain, in one transaction."""
        now = utcnow()
        sent: dict[int, list[int]] = {}
        others: dict[int, _Outcome] = {}
        for outcome in outcomes:
            result = outcome.result
            if result is not None and 200 <= result.status < 300:
                sent.setdefault(result.status, []).append(outcome.send.id)
            else:
                others[outcome.send.id] = outcome
        async with self.sessions() as db:
            for status, ids in sorted(sent.items()):
                await db.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(sorted(ids)))
                    .values(state=DeliveryState.SENT, sent_at=now, last_status=status, last_error="", locked_until=None)
                    .execution_options(synchronize_session=False)
                )
            if others:
                rows = await db.scalars(select(Delivery).where(Delivery.id.in_(sorted(others))).order_by(Delivery.id))
                for row in rows.all():
                    self._apply(row, others[row.id])
                    row.locked_until = None
            answered, failed = set(), set()
            for outcome in outcomes:
                result = outcome.result
                if outcome.refused:
                    continue
                if result is None or result.status >= 500 or result.status in RETRYABLE_4XX:
                    failed.add(outcome.send.domain)
                else:
                    answered.add(outcome.send.domain)
            if answered or failed:  # in name order: two workers never wait on each other's domain rows in a cycle
                domains = await db.scalars(
                    select(FederatedDomain)
                    .where(FederatedDomain.domain.in_(sorted(answered | failed)))
                    .order_by(FederatedDomain.domain)
                )
                for domain in domains.all():
                    if domain.domain in answered:
                        await record_success(db, domain, now)
                    else:
                        record_failure(domain, now)
            await db.commit()

    def _apply(self, row: Delivery, outcome: _Outcome) -> None:
        if outcome.result is not None:
            self._answered(row, outcome.result)
        elif outcome.refused:
            self._final(row, outcome.error)
        else:
            self._retry(row, outcome.error, None)

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
