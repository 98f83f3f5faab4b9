"""The background worker: steps every task that works through rows of the database.

A task claims due rows (``claim``), handles them and records the outcome on each row. ``run_once`` steps every
task once and is what tests call; ``run_forever`` loops until stopped. Several workers may run at once on
PostgreSQL (rows are claimed with ``FOR UPDATE SKIP LOCKED`` and a lock-until time); on SQLite, run one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from instance.db import is_unavailable
from instance.models.base import utcnow

log = logging.getLogger(__name__)

UNAVAILABLE_WAIT = 10.0  # at most this long between two tries of a task while the database is away

Row = TypeVar("Row")


class Task(Protocol):
    name: str

    async def run_once(self) -> int:
        """Handle the rows that are due; return how many were handled."""
        ...


async def claim(
    db: AsyncSession,
    model: type[Row],
    where: ColumnElement[bool],
    order_by: Any,
    limit: int,
    lock_seconds: float = 120,
) -> list[Row]:
    """Lock up to ``limit`` due rows for this worker until ``locked_until``; commit; return them.

    A worker that dies leaves the lock to expire, after which another worker picks the rows up again.
    """
    now = utcnow()
    table: Any = model  # a model with ``id`` and ``locked_until`` columns
    locked_until = table.locked_until
    query = select(model).where(where, (locked_until.is_(None)) | (locked_until < now)).order_by(order_by).limit(limit)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list((await db.scalars(query)).all())
    if rows:
        until = now + dt.timedelta(seconds=lock_seconds)
        ids = [row.id for row in rows]  # type: ignore[attr-defined]
        await db.execute(
            update(model)
            .where(table.id.in_(ids))
            .values(locked_until=until)
            .execution_options(synchronize_session=False)
        )
        for row in rows:  # so that a handler's ``row.locked_until = None`` is seen as a change and written
            set_committed_value(row, "locked_until", until)
    await db.commit()
    return rows


class Worker:
    def __init__(
        self,
        tasks: Sequence[Task],
        poll_interval: float = 1.0,
        heartbeat: Callable[[], Awaitable[None]] | None = None,
        heartbeat_every: float = 15.0,
    ) -> None:
        self.tasks = list(tasks)
        self.poll_interval = poll_interval
        self.stopping = asyncio.Event()
        self.heartbeat = heartbeat  # records "this worker is alive" for /healthz (instance.services.health)
        self.heartbeat_every = heartbeat_every
        self.last_heartbeat = -heartbeat_every

    async def run_once(self) -> int:
        done = 0
        for task in self.tasks:
            done += await task.run_once()
        return done

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        """Step until a round finds nothing to do (tests use this to let every consequence happen)."""
        total = 0
        for _round in range(max_rounds):
            done = await self.run_once()
            total += done
            if not done:
                break
        return total

    async def run_forever(self) -> None:
        """Run every task in its own loop (or in ``task.loops`` of them, rounds side by side), so that a slow one
        (deliveries to a server that answers late) never holds up the others (received activities, mail); beat the
        heartbeat meanwhile."""
        log.info("worker started with tasks: %s", ", ".join(t.name for t in self.tasks))
        loops = [
            asyncio.create_task(self._loop(task))
            for task in self.tasks
            for _loop in range(int(getattr(task, "loops", 1)))  # a task may run several rounds side by side
        ]
        try:
            while not self.stopping.is_set():
                await self.beat()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), min(self.poll_interval, self.heartbeat_every))
            await asyncio.gather(*loops, return_exceptions=True)  # a polite stop lets each round finish
        finally:
            for loop in loops:  # cancelled: rounds in flight stop where they are (their rows' locks expire)
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
        log.info("worker stopped")

    async def _loop(self, task: Task) -> None:
        away = 0  # rounds in a row that found the database unreachable
        while not self.stopping.is_set():
            try:
                done = await task.run_once()
            except Exception as error:  # a broken round must not stop the worker; each row records its own error
                done = 0
                if is_unavailable(error):  # stopped or restarting: wait for it, longer each time, quietly
                    away += 1
                    if away == 1:
                        log.warning("worker task %s: the database is unavailable (%s)", task.name, error)
                else:
                    away = 0
                    log.exception("worker task %s failed", task.name)
            else:
                if away:
                    log.info("worker task %s: the database is back after %d rounds", task.name, away)
                away = 0
            if not done:
                wait = min(self.poll_interval * 2**away, max(self.poll_interval, UNAVAILABLE_WAIT))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), wait)

    async def beat(self) -> None:
        """Record a heartbeat, at most every ``heartbeat_every`` seconds."""
        if self.heartbeat is None or time.monotonic() - self.last_heartbeat < self.heartbeat_every:
            return
        self.last_heartbeat = time.monotonic()
        try:
            await self.heartbeat()
        except Exception as error:  # the database may be briefly away; the next round tries again
            if is_unavailable(error):
                log.warning("worker heartbeat: the database is unavailable (%s)", error)
            else:
                log.exception("worker heartbeat failed")

    def stop(self) -> None:
        self.stopping.set()
