"""The API for associations: directory, profile, joining and leaving, members, catalog; the managers'
moderation queue and decisions; statistics, valuation and exports; notifications."""

from __future__ import annotations

from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import Association, Membership, MembershipStatus
from instance.runtime import Instance
from instance.services.associations import create_association
from instance.services.entries import today
from tests.api_support import add_entries, error_of, walk, world


async def test_directory_walks_every_association_once(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with instance.sessions() as db:
        owner = await db.get(type(w.alice), w.alice.id)
        assert owner is not None
        for number in range(24):
            await create_association(
                db, instance.settings, owner, handle=f"club{number:02d}", name=f"Club {number:02d}"
            )
        await db.commit()
    async with w.client(app, "carol") as carol:
        every = await walk(carol, "/api/v1/associations", limit=7)
        assert [a["handle"] for a in every] == [f"club{n:02d}" for n in range(24)] + ["restos"]
        found = await carol.get("/api/v1/associations", params={"q": "resto"})
        assert [a["handle"] for a in found.json()["items"]] == ["restos"]


async def test_profile_join_and_leave(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with w.client(app, "carol") as carol:
        profile = await carol.get("/api/v1/associations/restos")
        assert profile.status_code == 200
        assert profile.json()["membership"] is None
        assert profile.json()["members"] == 2
        joined = await carol.post("/api/v1/associations/restos/join", json={"message": "Hello"})
        assert joined.status_code == 201, joined.text
        assert joined.json()["status"] == "active"
        again = await carol.post("/api/v1/associations/restos/join", json={})
        assert again.status_code == 409
        assert error_of(again)["code"] == "conflict"
        too_long = await carol.post("/api/v1/associations/nowhere/join", json={"message": 3})
        assert too_long.status_code in (404, 422)
        assert (await carol.get("/api/v1/associations/restos")).json()["membership"]["member"] == "carol"
        left = await carol.post("/api/v1/associations/restos/leave")
        assert left.status_code == 204
        assert (await carol.post("/api/v1/associations/restos/leave")).status_code == 404
        assert (await carol.get("/api/v1/associations/nowhere")).status_code == 404
    async with w.client(app, "alice") as alice:
        last = await alice.post("/api/v1/associations/restos/leave")
        assert last.status_code == 409  # the last manager cannot leave


async def test_hidden_association_is_not_found_for_others(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with instance.sessions() as db:
        row = await db.get(Association, w.restos.id)
        assert row is not None
        row.hidden = True
        await db.commit()
    async with w.client(app, "carol") as carol:
        assert (await carol.get("/api/v1/associations/restos")).status_code == 404
        assert (await carol.get("/api/v1/associations")).json()["items"] == []
    async with w.client(app, "bob") as bob:
        assert (await bob.get("/api/v1/associations/restos")).status_code == 200


async def test_members_for_those_allowed(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with w.client(app, "alice") as alice:
        members = await walk(alice, "/api/v1/associations/restos/members", limit=1)
        assert sorted(m["member"] for m in members) == ["alice", "bob"]
        manager = next(m for m in members if m["member"] == "alice")
        assert "manage_entries" in manager["permissions"]
        pending = await alice.get("/api/v1/associations/restos/members", params={"status": "pending"})
        assert pending.json()["items"] == []
    async with w.client(app, "bob") as bob:
        refused = await bob.get("/api/v1/associations/restos/members")
        assert refused.status_code == 403
        assert error_of(refused)["code"] == "forbidden"


async def test_catalog(app: Starlette) -> None:
    w = await world(app)
    async with w.client(app, "bob") as bob:
        catalog = (await bob.get("/api/v1/associations/restos/catalog")).json()
        assert [c["id"] for c in catalog["categories"]] == sorted(w.categories, key=lambda i: catalog_order(catalog, i))
        assert all("common_category" in c for c in catalog["categories"])
        assert catalog["projects"] == []


def catalog_order(catalog: dict[str, list[dict[str, object]]], item_id: int) -> int:
    return [c["id"] for c in catalog["categories"]].index(item_id)


async def test_moderation_queue_and_decisions(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    ids = await add_entries(instance, w, w.bob, 12)
    async with w.client(app, "alice") as alice:
        queue = await walk(alice, "/api/v1/associations/restos/entries", limit=5)
        assert sorted(e["id"] for e in queue) == sorted(ids)
        assert {e["participant"] for e in queue} == {"Bob"}
        approved = await alice.post(f"/api/v1/associations/restos/entries/{ids[0]}/approve")
        assert approved.status_code == 200
        assert approved.json()["status"] == "approved"
        no_reason = await alice.post(f"/api/v1/associations/restos/entries/{ids[1]}/reject", json={"reason": " "})
        assert no_reason.status_code == 422
        assert set(error_of(no_reason)["fields"]) == {"reason"}
        rejected = await alice.post(f"/api/v1/associations/restos/entries/{ids[1]}/reject", json={"reason": "Date?"})
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["rejection_reason"] == "Date?"
        bulk = await alice.post("/api/v1/associations/restos/entries/approve", json={"ids": ids[2:6]})
        assert bulk.json() == {"changed": sorted(ids[2:6])}
        bulk_reject = await alice.post(
            "/api/v1/associations/restos/entries/reject", json={"ids": ids[6:8], "reason": "Duplicate"}
        )
        assert bulk_reject.json() == {"changed": sorted(ids[6:8])}
        empty = await alice.post("/api/v1/associations/restos/entries/approve", json={"ids": []})
        assert empty.status_code == 422
        pending = await walk(alice, "/api/v1/associations/restos/entries")
        assert sorted(e["id"] for e in pending) == sorted(ids[8:])
        every = await walk(alice, "/api/v1/associations/restos/entries", status="all", member=w.bob.id)
        assert len(every) == 12
        assert (await alice.post("/api/v1/associations/restos/entries/999999/approve")).status_code == 404
    async with w.client(app, "bob") as bob:
        assert (await bob.get("/api/v1/associations/restos/entries")).status_code == 403
        withdrawn = await bob.post(f"/api/v1/me/entries/{ids[9]}/withdraw")
        assert withdrawn.status_code == 200
    async with w.client(app, "alice") as alice:
        late = await alice.post(f"/api/v1/associations/restos/entries/{ids[9]}/approve")
        assert late.status_code == 409
    async with w.client(app, "alice-read") as reader:
        assert (await reader.post(f"/api/v1/associations/restos/entries/{ids[10]}/approve")).status_code == 403


async def test_statistics_valuation_and_export(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    await add_entries(instance, w, w.bob, 3, "approved")
    await add_entries(instance, w, w.bob, 2)
    year = str(today().year)
    async with w.client(app, "alice") as alice:
        stats = await alice.get("/api/v1/associations/restos/statistics", params={"year": year})
        assert stats.status_code == 200, stats.text
        assert stats.json()["totals"]["entries"] in (1, 2, 3)  # the days may straddle new year
        counted = await alice.get("/api/v1/associations/restos/statistics", params={"from": "2000-01-01"})
        assert counted.json()["totals"]["entries"] == 3
        with_pending = await alice.get(
            "/api/v1/associations/restos/statistics", params={"from": "2000-01-01", "pending": "true"}
        )
        assert with_pending.json()["totals"]["entries"] == 5
        bad = await alice.get(
            "/api/v1/associations/restos/statistics", params={"from": "2025-02-01", "to": "2025-01-01"}
        )
        assert bad.status_code == 422
        assert set(error_of(bad)["fields"]) == {"to"}
        value = await alice.get("/api/v1/associations/restos/valuation", params={"from": "2000-01-01"})
        assert value.status_code == 200
        assert value.json()["entries"] == 3
        assert value.json()["minutes"] == 60 + 61 + 62
        assert value.json()["total"] == "36.23"  # 183 minutes at 11.88 € an hour
        export = await alice.get("/api/v1/associations/restos/entries.csv", params={"year": "all", "status": "all"})
        assert export.status_code == 200
        assert len(export.content.decode("utf-8-sig").strip().splitlines()) == 6
    async with w.client(app, "bob") as bob:
        assert (await bob.get("/api/v1/associations/restos/statistics")).status_code == 403
        assert (await bob.get("/api/v1/associations/restos/entries.csv")).status_code == 403


async def test_notifications_list_and_read(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with w.client(app, "bob") as bob:
        for number in range(3):
            body = {"association": "restos", "duration_minutes": 30 + number, "title": f"Shift {number}"}
            assert (await bob.post("/api/v1/me/entries", json=body)).status_code == 201
    async with w.client(app, "alice") as alice:
        every = await walk(alice, "/api/v1/me/notifications", limit=2)
        assert len(every) == 3
        assert all(n["read_at"] is None and n["link"].startswith("https://a.test/") for n in every)
        one = await alice.post("/api/v1/me/notifications/read", json={"ids": [every[0]["id"]]})
        assert one.json() == {"marked": 1, "unread": 2}
        unread = await walk(alice, "/api/v1/me/notifications", unread="true")
        assert len(unread) == 2
        rest = await alice.post("/api/v1/me/notifications/read", json={})
        assert rest.json() == {"marked": 2, "unread": 0}
        bad = await alice.post("/api/v1/me/notifications/read", json={"ids": ["x"]})
        assert bad.status_code == 422
        assert set(error_of(bad)["fields"]) == {"ids.0"}
    async with w.client(app, "carol") as carol:  # another person's notifications are not theirs to mark
        assert (await carol.post("/api/v1/me/notifications/read", json={"ids": [every[1]["id"]]})).json()["marked"] == 0


async def test_my_memberships(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with instance.sessions() as db:
        bob_membership = await db.scalar(select(Membership).where(Membership.user_id == w.bob.id))
        assert bob_membership is not None and bob_membership.status == MembershipStatus.ACTIVE
    async with w.client(app, "bob") as bob:
        mine = await walk(bob, "/api/v1/me/memberships")
        assert [(m["association"], m["status"]) for m in mine] == [("restos", "active")]
