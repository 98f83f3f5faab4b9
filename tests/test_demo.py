"""The demo's sample data: a newcomer can log in and find associations, memberships and entries."""

from __future__ import annotations

import asyncio

import httpx

from instance.demo import DEMO_PASSWORD, NORD, SUD, seed_demo
from instance.models import TimeEntry
from instance.runtime import Instance
from tests.conftest import log_in
from tests.federation_support import Pair
from web.demo import DemoInstance, federate

pytest_plugins = ["tests.federation_fixtures"]


async def test_demo_data_lets_a_volunteer_see_her_time(instance: Instance, client: httpx.AsyncClient) -> None:
    async with instance.sessions() as db:
        logins = await seed_demo(db, instance.settings)
        await db.commit()
    async with instance.sessions() as db:
        assert await seed_demo(db, instance.settings) == logins  # a second run adds nothing and does not fail
    await log_in(client, "lea@demo.test", DEMO_PASSWORD)
    entries = await client.get("/entries", headers={"Accept-Language": "en"})
    assert entries.status_code == 200
    assert "Les Jardins partagés" in entries.text
    directory = await client.get("/associations")
    assert "La Boussole" in directory.text


async def test_the_two_demo_instances_federate(pair: Pair) -> None:
    nord = DemoInstance("Nord", "a.test", 443, NORD, pair.a.app)
    sud = DemoInstance("Sud", "b.test", 443, SUD, pair.b.app)
    for side in (nord, sud):
        async with side.instance.sessions() as db:
            await seed_demo(db, side.instance.settings, side.demo)
            await db.commit()

    async def settle_meanwhile() -> None:
        for _ in range(200):
            await pair.a.worker.run_once()
            await pair.b.worker.run_once()
            await asyncio.sleep(0.01)

    worker = asyncio.create_task(settle_meanwhile())
    await federate(nord, sud)
    await worker
    await pair.settle()

    lea = pair.a.browser()
    await log_in(lea, "lea@demo.test", DEMO_PASSWORD)
    mine = await lea.get("/entries", headers={"Accept-Language": "en"})
    assert "Entraide Sud" in mine.text and "Tri des dons" in mine.text
    received = await pair.b.rows(TimeEntry, TimeEntry.ap_id.is_not(None))
    assert len(received) == 3 and sorted(e.status for e in received) == ["approved", "approved", "pending"]
    mirrored = await pair.a.rows(TimeEntry, TimeEntry.accept_record.is_not(None))
    assert len(mirrored) == 2
