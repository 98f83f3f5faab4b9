"""Handling received activities: the worker claims ``InboxItem`` rows and dispatches them (``handlers.HANDLERS``).

A handler's changes and the row's new state are committed together, so a crash before the commit leaves the row
``received`` (its lock expires and it is handled again) and a handled row is never handled twice. A failing
handler's error is kept in ``last_error``; the row is retried with backoff, then marked ``failed``. An error that
means the database is busy or away is not the activity's: the row is tried again a moment later, uncounted.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from federation.handlers import Context, Ignored, handler_for
from instance.db import is_unavailable
from instance.models import InboxItem, InboxState, utcnow
from instance.worker import claim

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
UNAVAILABLE_RETRY = dt.timedelta(seconds=1)  # a row whose handling met the database busy or away


def retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 4 ** (attempts - 1), 6 * 3600))


class InboxTask:
    """Worker task: handle the received activities that are due."""

    name = "inbox"

    def __init__(self, context: Context, sessions: async_sessionmaker[AsyncSession], batch: int = 20) -> None:
        self.context = context
        self.sessions = sessions
        self.batch = batch

    async def run_once(self) -> int:
        async with self.sessions() as db:
            due = (InboxItem.state == InboxState.RECEIVED) & (InboxItem.next_attempt_at <= utcnow())
            lock = self.context.settings.worker_lock_seconds
            items = await claim(db, InboxItem, due, InboxItem.id, limit=self.batch, lock_seconds=lock)
        for item in items:
            await self.process(item.id)
        return len(items)

    async def process(self, item_id: int) -> None:
        async with self.sessions() as db:
            item = await db.get(InboxItem, item_id)
            if item is None or item.state != InboxState.RECEIVED:
                return
            try:
                handler = await handler_for(db, self.context.settings, item.body)
                if handler is None:
                    self._finish(item, InboxState.IGNORED, f"no handler for {item.activity_type}")
                else:
                    await handler(self.context, db, item.body)
                    self._finish(item, InboxState.PROCESSED, "")
                await db.commit()
            except Ignored as ignored:
                await self._after_rollback(db, item, InboxState.IGNORED, ignored.reason)
            except Exception as error:  # any failure is kept on the row, and the row retried
                if is_unavailable(error):  # SQLite busy with another writer, or the database away: not the
                    log.info("inbox item %s waits for the database: %s", item_id, error)  # activity's fault
                    await self._retry_soon(db, item, f"{type(error).__name__}: {error}")
                    return
                log.warning("inbox item %s (%s) failed: %s", item_id, item.activity_type, error, exc_info=True)
                await self._after_rollback(db, item, None, f"{type(error).__name__}: {error}")

    @staticmethod
    def _finish(item: InboxItem, state: InboxState, note: str) -> None:
        item.attempts += 1
        item.state, item.last_error, item.locked_until = state, note[:2000], None
        item.processed_at = utcnow()

    @staticmethod
    async def _retry_soon(db: AsyncSession, item: InboxItem, note: str) -> None:
        """Try the row again in a moment, without counting the attempt (which would end in ``failed``). When the
        database is away this raises too, and the row waits for its lock to expire."""
        await db.rollback()
        await db.refresh(item)
        item.last_error, item.locked_until = note[:2000], None
        item.next_attempt_at = utcnow() + UNAVAILABLE_RETRY
        await db.commit()

    async def _after_rollback(self, db: AsyncSession, item: InboxItem, state: InboxState | None, note: str) -> None:
        await db.rollback()
        await db.refresh(item)
        if state is not None:
            self._finish(item, state, note)
        else:
            item.attempts += 1
            item.last_error, item.locked_until = note[:2000], None
            if item.attempts >= MAX_ATTEMPTS:
                item.state = InboxState.FAILED
            else:
                item.next_attempt_at = utcnow() + retry_delay(item.attempts)
        await db.commit()
