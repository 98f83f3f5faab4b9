"""Delivery: retries with backoff, Retry-After, final failures, crashed workers, unavailable domains."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import httpx
from sqlalchemy import update

from federation import activities
from federation.delivery import MAX_ATTEMPTS, DeliveryTask, backoff, enqueue, retry_after
from federation.policy import set_domain
from instance.models import Delivery, DeliveryState, FederatedDomain, InboxItem, utcnow
from instance.models.federation import user_owner
from instance.worker import Worker, claim
from tests.federation_support import Pair

ALICE = "https://a.test/users/alice"
RESTOS = "https://b.test/associations/restos"


async def queue_follow(pair: Pair) -> Delivery:
    """Given alice on a.test with a Follow of restos (on b.test) queued for b.test's shared inbox."""
    await pair.a.user("alice")
    await pair.b.user("carol")
    await pair.b.association("carol", "restos")
    async with pair.a.instance.sessions() as db:
        [row] = await enqueue(db, activities.follow(ALICE, RESTOS), user_owner(1), ["https://b.test/inbox"] * 2)
        await db.commit()
        return row


async def delivery(pair: Pair) -> Delivery:
    [row] = await pair.a.rows(Delivery)
    return row


async def make_due(pair: Pair) -> None:
    async with pair.a.instance.sessions() as db:
        await db.execute(update(Delivery).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
        await db.commit()


async def test_a_server_that_is_down_gets_it_later_exactly_once(pair: Pair) -> None:
    await queue_follow(pair)
    pair.router.down["b.test"] = httpx.ConnectError

    await pair.a.worker.run_once()

    row = await delivery(pair)
    assert row.state == DeliveryState.PENDING and row.attempts == 1
    assert "ConnectError" in row.last_error and row.next_attempt_at > utcnow()
    assert await pair.a.worker.run_once() == 0  # not due yet
    del pair.router.down["b.test"]
    await make_due(pair)
    await pair.a.worker.run_once()
    await pair.a.worker.run_once()
    row = await delivery(pair)
    assert (row.state, row.attempts, row.last_status) == (DeliveryState.SENT, 2, 202)
    assert await pair.b.count(InboxItem) == 1
    [domain] = await pair.a.rows(FederatedDomain)
    assert domain.last_success_at is not None and domain.failing_since is None


async def test_a_503_with_retry_after_is_retried_when_asked(pair: Pair) -> None:
    await queue_follow(pair)
    pair.router.down["b.test"] = 503
    pair.router.retry_after = "120"

    await pair.a.worker.run_once()

    row = await delivery(pair)
    assert row.state == DeliveryState.PENDING and row.last_status == 503
    wait = row.next_attempt_at - utcnow()
    assert dt.timedelta(seconds=100) < wait <= dt.timedelta(seconds=120)
    del pair.router.down["b.test"]
    await make_due(pair)
    await pair.a.worker.run_once()
    assert (await delivery(pair)).state == DeliveryState.SENT
    assert await pair.b.count(InboxItem) == 1


async def test_410_is_final(pair: Pair) -> None:
    await queue_follow(pair)
    pair.router.down["b.test"] = 410

    await pair.a.worker.run_once()
    await make_due(pair)
    await pair.a.worker.run_once()

    row = await delivery(pair)
    assert (row.state, row.attempts, row.last_status) == (DeliveryState.FAILED, 1, 410)
    assert len(pair.router.to("b.test")) == 1


async def test_a_worker_that_died_after_claiming_leaves_it_to_another(pair: Pair) -> None:
    await queue_follow(pair)
    async with pair.a.instance.sessions() as db:  # a worker claims the row, then dies
        claimed = await claim(db, Delivery, Delivery.state == DeliveryState.PENDING, Delivery.id, limit=10)
    assert len(claimed) == 1

    assert await pair.a.worker.run_once() == 0  # still locked
    async with pair.a.instance.sessions() as db:
        await db.execute(update(Delivery).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
        await db.commit()
    await pair.a.worker.run_once()
    await pair.a.worker.run_once()

    assert (await delivery(pair)).state == DeliveryState.SENT
    assert await pair.b.count(InboxItem) == 1
    assert len([r for r in pair.router.to("b.test") if r.method == "POST"]) == 1


async def test_out_of_attempts_is_final(pair: Pair) -> None:
    await queue_follow(pair)
    async with pair.a.instance.sessions() as db:
        await db.execute(update(Delivery).values(attempts=MAX_ATTEMPTS - 1))
        await db.commit()
    pair.router.down["b.test"] = 500

    await pair.a.worker.run_once()

    row = await delivery(pair)
    assert row.state == DeliveryState.FAILED and "out of attempts" in row.last_error


async def test_a_domain_failing_for_a_week_waits_until_it_answers(pair: Pair) -> None:
    await queue_follow(pair)
    async with pair.a.instance.sessions() as db:
        db.add(FederatedDomain(domain="b.test", failing_since=utcnow() - dt.timedelta(days=8)))
        await db.commit()
    pair.router.down["b.test"] = httpx.ConnectTimeout

    await pair.a.worker.run_once()
    [domain] = await pair.a.rows(FederatedDomain)
    assert domain.unavailable_since is not None
    await make_due(pair)
    await pair.a.worker.run_once()  # waits for the daily probe: no attempt
    row = await delivery(pair)
    assert row.attempts == 1 and row.next_attempt_at > utcnow() + dt.timedelta(hours=23)

    del pair.router.down["b.test"]
    async with pair.a.instance.sessions() as db:
        await db.execute(update(FederatedDomain).values(last_failure_at=utcnow() - dt.timedelta(days=2)))
        await db.commit()
    await make_due(pair)
    await pair.a.worker.run_once()

    assert (await delivery(pair)).state == DeliveryState.SENT
    [domain] = await pair.a.rows(FederatedDomain)
    assert domain.unavailable_since is None and domain.last_success_at is not None


async def test_a_blocked_domain_gets_nothing(pair: Pair) -> None:
    await queue_follow(pair)
    async with pair.a.instance.sessions() as db:
        await set_domain(db, "b.test", blocked=True)
        await db.commit()

    await pair.a.worker.run_once()

    row = await delivery(pair)
    assert row.state == DeliveryState.FAILED and "blocked" in row.last_error
    assert pair.router.to("b.test") == []


def test_backoff_spans_about_two_days() -> None:
    total = sum((backoff(attempt, jitter=0.5) for attempt in range(1, MAX_ATTEMPTS)), dt.timedelta())
    assert dt.timedelta(days=1.5) < total < dt.timedelta(days=3)
    assert backoff(1, 0) == dt.timedelta(seconds=16)


def test_retry_after_reads_seconds_and_dates() -> None:
    now = dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC)
    assert retry_after("30", now) == dt.timedelta(seconds=30)
    assert retry_after("Sun, 08 Mar 2026 12:05:00 GMT", now) == dt.timedelta(minutes=5)
    assert retry_after("soon", now) is None
    assert retry_after("999999", now) == dt.timedelta(days=1)


async def test_a_server_that_never_answers_does_not_hold_up_the_worker(pair: Pair) -> None:
    await queue_follow(pair)
    pair.router.slow["b.test"] = 25.0  # answers after the delivery has been waiting a long time
    async with pair.a.instance.sessions() as db:
        db.add(
            InboxItem(activity_id="https://c.test/likes/1", activity_type="Like", actor_uri="https://c.test/u", body={})
        )
        await db.commit()
    worker = Worker(pair.a.instance.tasks, poll_interval=0.05)
    running = asyncio.create_task(worker.run_forever())
    try:
        for _ in range(100):  # the received activity is handled while the delivery is still in flight
            [item] = await pair.a.rows(InboxItem)
            if item.state != "received":
                break
            await asyncio.sleep(0.05)
        assert item.state == "ignored"
        assert (await delivery(pair)).state == DeliveryState.PENDING
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_full_round_is_sent_once_and_every_outcome_is_written(pair: Pair) -> None:
    """One round takes a whole batch: every delivery arrives once and is marked sent, down to the last ones
    (outcomes are written by the dozen, and what is left when the round ends is written then)."""
    await pair.a.user("alice")
    await pair.b.user("carol")
    await pair.b.association("carol", "restos")
    task = next(task for task in pair.a.instance.tasks if isinstance(task, DeliveryTask))
    async with pair.a.instance.sessions() as db:
        for _ in range(task.batch):
            await enqueue(db, activities.follow(ALICE, RESTOS), user_owner(1), ["https://b.test/inbox"])
        await db.commit()
    queued = await pair.a.rows(Delivery)

    assert await task.run_once() == len(queued) == 64

    assert {row.state for row in await pair.a.rows(Delivery)} == {DeliveryState.SENT}
    received = [item.activity_id for item in await pair.b.rows(InboxItem)]
    assert sorted(received) == sorted(row.activity_id for row in queued)  # each once
