"""Handling stored activities and sending deliveries with the worker: ignored types, recorded errors, crashes,
concurrent workers (PostgreSQL), and the allow-list mode."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from federation import activities
from federation.delivery import DeliveryTask, enqueue
from federation.runtime import Federation
from instance.models import Delivery, DeliveryState, InboxItem, InboxState, utcnow
from instance.models.federation import user_owner
from instance.worker import claim
from tests.federation_support import Pair

ALICE = "https://a.test/users/alice"


async def store(pair: Pair, body: dict[str, Any]) -> None:
    async with pair.b.instance.sessions() as db:
        db.add(InboxItem(activity_id=body["id"], activity_type=body["type"], actor_uri=ALICE, body=body))
        await db.commit()


async def item(pair: Pair) -> InboxItem:
    [found] = await pair.b.rows(InboxItem)
    return found


async def test_an_unknown_activity_is_ignored(pair: Pair) -> None:
    await store(pair, {"id": f"{ALICE}#like", "type": "Like", "actor": ALICE, "object": "https://b.test/x"})

    await pair.b.worker.run_once()

    found = await item(pair)
    assert found.state == InboxState.IGNORED and "no handler" in found.last_error


async def test_a_failing_handler_keeps_the_error_and_retries_later(pair: Pair) -> None:
    # a Follow stored without an id (the inbox never stores one): the handler fails
    await pair.a.user("alice")
    await pair.b.user("carol")
    await pair.b.association("carol", "restos")
    broken = {"type": "Follow", "actor": ALICE, "object": "https://b.test/associations/restos"}
    await store(pair, {"id": f"{ALICE}#x", **broken})
    async with pair.b.instance.sessions() as db:
        await db.execute(update(InboxItem).values(body=broken))
        await db.commit()

    await pair.b.worker.run_once()

    found = await item(pair)
    assert found.state == InboxState.RECEIVED and found.attempts == 1
    assert found.last_error.startswith("KeyError") and found.next_attempt_at > utcnow()


async def test_an_item_claimed_by_a_worker_that_died_is_handled_once(pair: Pair) -> None:
    await store(pair, {"id": f"{ALICE}#like", "type": "Like", "actor": ALICE, "object": "https://b.test/x"})
    async with pair.b.instance.sessions() as db:
        await claim(db, InboxItem, InboxItem.state == InboxState.RECEIVED, InboxItem.id, limit=5)

    assert await pair.b.worker.run_once() == 0
    async with pair.b.instance.sessions() as db:
        await db.execute(update(InboxItem).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
        await db.commit()
    await pair.b.worker.run_until_idle()

    found = await item(pair)
    assert found.state == InboxState.IGNORED and found.attempts == 1


async def test_several_workers_never_send_a_delivery_twice(pair: Pair) -> None:
    if pair.a.instance.settings.is_sqlite:
        pytest.skip("several workers need PostgreSQL (FOR UPDATE SKIP LOCKED)")
    await pair.a.user("alice")
    async with pair.a.instance.sessions() as db:
        for number in range(12):
            activity = activities.follow(ALICE, f"https://b.test/associations/a{number}")
            await enqueue(db, activity, user_owner(1), ["https://b.test/inbox"])
        await db.commit()
    federation: Federation = pair.a.app.state.federation
    workers = [DeliveryTask(federation.settings, federation.sessions, federation.client, batch=3) for _ in range(4)]

    for _round in range(6):
        await asyncio.gather(*(worker.run_once() for worker in workers))

    posts = [r for r in pair.router.to("b.test") if r.method == "POST"]
    assert len(posts) == 12
    assert await pair.a.count(Delivery, Delivery.state == DeliveryState.SENT) == 12
