"""Both instances agree on every entry, whatever the order in which activities arrive and however often they are
delivered again: random interleavings of edits, withdrawals, approvals, rejections, revocations and redeliveries
between a.test (alice) and b.test (restos, moderated; libre, approving at once)."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from federation.delivery import DeliveryTask
from federation.inbox import InboxTask
from instance.models import Association, Category, Delivery, DeliveryState, InboxItem, InboxState, TimeEntry, User
from instance.services import entries, moderation
from tests.conftest import post_form
from tests.federation_support import Pair, Side

pytest_plugins = ["tests.federation_fixtures"]

INTERLEAVINGS = 200
STEPS = 9


def _task(side: Side, kind: type[DeliveryTask] | type[InboxTask]) -> DeliveryTask | InboxTask:
    return next(t for t in side.instance.tasks if isinstance(t, kind))


async def _deliver_one(side: Side, receiver: Side, chosen: int) -> None:
    """Send one pending delivery of ``side`` and let the receiver handle what arrived."""
    task = _task(side, DeliveryTask)
    assert isinstance(task, DeliveryTask)
    await task.deliver(chosen)
    inbox = _task(receiver, InboxTask)
    assert isinstance(inbox, InboxTask)
    for item in await receiver.rows(InboxItem, InboxItem.state == InboxState.RECEIVED):
        await inbox.process(item.id)


async def _pending(side: Side) -> list[int]:
    return [d.id for d in await side.rows(Delivery, Delivery.state == DeliveryState.PENDING)]


async def _redeliver(side: Side, rng: random.Random) -> None:
    """A delivery sent before is sent again (the receiver's answer was lost, say)."""
    sent = await side.rows(Delivery, Delivery.state == DeliveryState.SENT)
    if not sent:
        return
    chosen = rng.choice(sent)
    async with side.instance.sessions() as db:
        row = await db.get(Delivery, chosen.id)
        assert row is not None
        row.state = DeliveryState.PENDING
        await db.commit()


async def _setup(pair: Pair) -> None:
    alice = await pair.a.person("alice")
    await pair.b.person("bob")
    await pair.b.association("bob", "restos", moderate_entries=True)
    await pair.b.association("bob", "libre", moderate_entries=False)
    for handle in ("restos", "libre"):
        await post_form(alice, "/follows", {"target": f"@{handle}@b.test"}, page="/follows")
        await post_form(alice, f"/associations/{handle}@b.test/join", {}, page=f"/associations/{handle}@b.test")
    await pair.settle()


async def _new_entry(pair: Pair, rng: random.Random, number: int) -> int:
    async with pair.a.instance.sessions() as db:
        alice = await db.scalar(select(User).where(User.handle == "alice"))
        handle = rng.choice(["restos@b.test", "libre@b.test"])
        association = await db.scalar(select(Association).where(Association.handle == handle))
        assert alice is not None and association is not None
        category = await db.scalar(select(Category.id).where(Category.association_id == association.id).limit(1))
        values = _values(rng, category, number)
        entry = await entries.create_entry(db, pair.a.instance.settings.base_url, alice, association, values)
        await db.commit()
        return entry.id


def _values(rng: random.Random, category: int | None, number: int) -> dict[str, str]:
    day = dt.date.today() - dt.timedelta(days=rng.randint(1, 30))
    return {
        "start_date": day.isoformat(),
        "duration": "other",
        "hours": str(rng.randint(0, 6)),
        "minutes": str(rng.choice([15, 30, 45])),
        "title": f"Entrée {number}",
        "category": str(category),
    }


async def _volunteer_acts(pair: Pair, rng: random.Random, entry_id: int, number: int) -> None:
    async with pair.a.instance.sessions() as db:
        alice = await db.scalar(select(User).where(User.handle == "alice"))
        entry = await db.get(TimeEntry, entry_id)
        assert alice is not None and entry is not None
        if entry.status == "withdrawn":
            return
        base = pair.a.instance.settings.base_url
        if rng.random() < 0.25:
            await entries.withdraw_entry(db, alice, entry_id)
        else:
            await entries.update_entry(db, base, alice, entry_id, _values(rng, entry.category_id, number))
        await db.commit()


async def _association_acts(pair: Pair, rng: random.Random, entry_id: int) -> None:
    async with pair.b.instance.sessions() as db:
        entry = await db.scalar(select(TimeEntry).where(TimeEntry.ap_id == f"https://a.test/entries/{entry_id}"))
        bob = await db.scalar(select(User).where(User.handle == "bob"))
        if entry is None or bob is None or entry.status == "withdrawn":
            return
        association = await db.get(Association, entry.association_id)
        assert association is not None
        approve = entry.status != "approved" if rng.random() < 0.8 else rng.random() < 0.5
        await moderation.decide(db, bob, association, [entry.id], approve, "" if approve else "Non")
        await db.commit()


async def _step(pair: Pair, rng: random.Random, entry_id: int, number: int) -> None:
    roll = rng.random()
    if roll < 0.2:
        await _volunteer_acts(pair, rng, entry_id, number)
    elif roll < 0.4:
        await _association_acts(pair, rng, entry_id)
    elif roll < 0.5:
        await _redeliver(rng.choice([pair.a, pair.b]), rng)
    else:
        sender, receiver = (pair.a, pair.b) if rng.random() < 0.5 else (pair.b, pair.a)
        waiting = await _pending(sender)
        if waiting:
            await _deliver_one(sender, receiver, rng.choice(waiting))


async def _agree(pair: Pair, entry_id: int, seed: int) -> None:
    [mine] = await pair.a.rows(TimeEntry, TimeEntry.id == entry_id)
    theirs = await pair.b.rows(TimeEntry, TimeEntry.ap_id == f"https://a.test/entries/{entry_id}")
    if not theirs:  # the withdrawal arrived before the entry itself
        assert mine.status == "withdrawn", f"seed {seed}: b.test never kept entry {entry_id} ({mine.status})"
        return
    [copy] = theirs
    seen = (mine.status, mine.duration_minutes, mine.start_date)
    assert seen == (copy.status, copy.duration_minutes, copy.start_date), f"seed {seed}: {seen} vs {copy.status}"
    if mine.status == "approved":
        assert mine.accept_record is not None
        assert mine.accept_record["object"]["updated"] == copy.ap_object["updated"] if copy.ap_object else False


async def _drain(pair: Pair) -> None:
    """Deliver and handle everything left, in order (only the federation tasks: the others have nothing to do)."""
    tasks = [_task(side, kind) for side in (pair.a, pair.b) for kind in (DeliveryTask, InboxTask)]
    for _round in range(30):
        if not sum([await task.run_once() for task in tasks]):
            return
    raise AssertionError("the federation tasks never became idle")


async def test_both_sides_agree_after_random_interleavings(pair: Pair) -> None:
    await _setup(pair)
    for seed in range(INTERLEAVINGS):
        rng = random.Random(seed)
        entry_id = await _new_entry(pair, rng, seed)
        for _step_number in range(STEPS):
            await _step(pair, rng, entry_id, seed)
        await _drain(pair)
        await _agree(pair, entry_id, seed)
