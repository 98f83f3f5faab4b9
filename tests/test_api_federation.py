"""The API works the same for an association of another instance: alice's script on a.test finds restos on
b.test by its address, joins it, reads its catalog and logs time that bob approves there."""

from __future__ import annotations

import datetime as dt

from instance.models import User
from tests.api_support import api, make_token
from tests.federation_entries_support import MIRROR
from tests.federation_support import Pair

pytest_plugins = ["tests.federation_fixtures"]


async def test_a_script_joins_a_remote_association_and_logs_time_there(pair: Pair) -> None:
    await pair.a.user("alice")
    bob = await pair.b.person("bob")
    await pair.b.association("bob", "restos")
    [alice] = await pair.a.rows(User, User.handle == "alice")
    token = await make_token(pair.a.instance, alice)

    async with api(pair.a.app, token) as script:
        script.base_url = "https://a.test"
        found = await script.post("/api/v1/associations/lookup", json={"address": "@restos@b.test"})
        assert found.status_code == 200, found.text
        body = found.json()
        assert (body["handle"], body["address"], body["remote"]) == (MIRROR, f"@{MIRROR}", True)
        unknown = await script.post("/api/v1/associations/lookup", json={"address": "@nobody@b.test"})
        assert unknown.status_code == 422 and "address" in unknown.json()["error"]["fields"]

        joined = await script.post(f"/api/v1/associations/{MIRROR}/join", json={})
        assert joined.status_code == 201 and joined.json()["status"] == "pending"
        await pair.settle()
        profile = (await script.get(f"/api/v1/associations/{MIRROR}")).json()
        assert profile["membership"]["status"] == "active"
        catalog = (await script.get(f"/api/v1/associations/{MIRROR}/catalog")).json()
        category = catalog["categories"][0]["id"]
        entry = {
            "association": MIRROR,
            "start_date": dt.date.today().isoformat(),
            "duration_minutes": 90,
            "title": "Tri",
            "category_id": category,
        }
        created = await script.post("/api/v1/me/entries", json=entry)
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "pending"
        await pair.settle()
        pending = await bob.get("/associations/restos/moderation")
        assert "Tri" in pending.text
