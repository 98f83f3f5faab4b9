"""The demo's sample data: a newcomer can log in and find associations, memberships and entries."""

from __future__ import annotations

import httpx

from instance.demo import DEMO_PASSWORD, seed_demo
from instance.runtime import Instance
from tests.conftest import log_in


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
