"""What ``/healthz`` and ``/metrics`` report: the database, its migrations, the worker's heartbeat, the queues."""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from instance.db import check_migrations
from instance.errors import NotMigrated
from instance.models import (
    Association,
    Delivery,
    DeliveryState,
    Flag,
    FlagState,
    InboxItem,
    MailState,
    OutgoingMail,
    TimeEntry,
    User,
    WorkerHeartbeat,
    utcnow,
)

# A worker records a heartbeat at most this often; /healthz calls it stale after STALE_AFTER seconds.
HEARTBEAT_EVERY = 15.0
STALE_AFTER = 120.0
FORGET_AFTER = dt.timedelta(days=7)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_writer(sessions: async_sessionmaker[AsyncSession]) -> Callable[[], Awaitable[None]]:
    """The callable a worker calls after its rounds: it upserts this worker's row (and forgets old ones)."""
    name = worker_name()

    async def beat() -> None:
        now = utcnow()
        async with sessions() as db:
            row = await db.get(WorkerHeartbeat, name)
            if row is None:
                db.add(WorkerHeartbeat(worker=name, started_at=now, last_round_at=now))
            else:
                row.last_round_at = now
            await db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_round_at < now - FORGET_AFTER))
            await db.commit()

    return beat


async def last_heartbeat(db: AsyncSession) -> dt.datetime | None:
    stamp: dt.datetime | None = await db.scalar(select(func.max(WorkerHeartbeat.last_round_at)))
    return stamp


@dataclass
class Health:
    checks: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks[name] = {"ok": ok, "detail": detail}


async def check_health(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> Health:
    """Database reachable, at the latest migration, and a worker seen recently; each with a reason."""
    health = Health()
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any driver error means "unreachable" here
        health.add("database", False, f"unreachable: {type(error).__name__}")
        health.add("migrations", False, "unknown: the database is unreachable")
        health.add("worker", False, "unknown: the database is unreachable")
        return health
    health.add("database", True, "reachable")
    try:
        await check_migrations(engine)
    except NotMigrated as error:
        health.add("migrations", False, f"not migrated: at {error.current or '(none)'}, needs {error.head}")
        health.add("worker", False, "unknown: the database is not migrated")
        return health
    health.add("migrations", True, "at the latest migration")
    async with sessions() as db:
        stamp = await last_heartbeat(db)
    if stamp is None:
        health.add("worker", False, "no worker has reported yet")
    else:
        age = (utcnow() - stamp).total_seconds()
        fresh = age <= STALE_AFTER
        health.add("worker", fresh, f"last round {age:.0f} s ago" + ("" if fresh else " (stale)"))
    return health


# -- metrics --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gauge:
    name: str
    help: str
    values: list[tuple[dict[str, str], float]]


async def _by_state(db: AsyncSession, model: type[OutgoingMail] | type[Delivery] | type[InboxItem]) -> dict[str, int]:
    rows = await db.execute(select(model.state, func.count(model.id)).group_by(model.state))
    return {str(getattr(state, "value", state)): int(count) for state, count in rows.all()}


async def _oldest_due_age(db: AsyncSession, model: type[OutgoingMail] | type[Delivery], state: object) -> float:
    """Seconds since the oldest row waiting for the worker became due (0 when none): the worker's lag."""
    due: dt.datetime | None = await db.scalar(
        select(model.next_attempt_at)
        .where(model.state == state, model.next_attempt_at <= utcnow())
        .order_by(model.next_attempt_at)
        .limit(1)
    )
    return max(0.0, (utcnow() - due).total_seconds()) if due is not None else 0.0


async def gauges(db: AsyncSession) -> list[Gauge]:
    mail = await _by_state(db, OutgoingMail)
    deliveries = await _by_state(db, Delivery)
    inbox = await _by_state(db, InboxItem)
    beat = await last_heartbeat(db)

    async def count(column: object, *where: object) -> float:
        return float(await db.scalar(select(func.count(column)).where(*where)) or 0)  # type: ignore[arg-type]

    return [
        Gauge(
            "benevalibre_mail",
            "Outgoing mails by state.",
            [({"state": s.value}, mail.get(s.value, 0)) for s in MailState],
        ),
        Gauge(
            "benevalibre_deliveries",
            "Outgoing ActivityPub deliveries by state.",
            [({"state": k}, v) for k, v in sorted(deliveries.items())],
        ),
        Gauge(
            "benevalibre_inbox_items",
            "Incoming ActivityPub activities by state.",
            [({"state": k}, v) for k, v in sorted(inbox.items())],
        ),
        Gauge("benevalibre_users", "Accounts.", [({}, await count(User.id, User.actor_uri.is_(None)))]),
        Gauge(
            "benevalibre_associations",
            "Associations of this instance (all states).",
            [({}, await count(Association.id, Association.actor_uri.is_(None)))],
        ),
        Gauge("benevalibre_entries", "Time entries.", [({}, await count(TimeEntry.id))]),
        Gauge(
            "benevalibre_open_reports",
            "Reports waiting for an admin.",
            [({}, await count(Flag.id, Flag.state == FlagState.OPEN))],
        ),
        Gauge(
            "benevalibre_queue_lag_seconds",
            "Age of the oldest due row waiting for the worker.",
            [
                ({"queue": "mail"}, await _oldest_due_age(db, OutgoingMail, MailState.QUEUED)),
                ({"queue": "deliveries"}, await _oldest_due_age(db, Delivery, DeliveryState.PENDING)),
            ],
        ),
        Gauge(
            "benevalibre_worker_heartbeat_age_seconds",
            "Seconds since a worker last finished a round (-1: never).",
            [({}, (utcnow() - beat).total_seconds() if beat is not None else -1.0)],
        ),
    ]
