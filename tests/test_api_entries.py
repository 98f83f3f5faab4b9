"""The API for a volunteer's own entries: list with filters and cursor, log, read, edit, withdraw, export."""

from __future__ import annotations

from starlette.applications import Starlette

from instance.runtime import Instance
from instance.services.entries import today
from tests.api_support import add_entries, api, error_of, walk, world


async def test_log_an_hour_from_a_phone_shortcut(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with w.client(app, "bob") as bob:
        body = {
            "association": "restos",
            "duration_minutes": 60,
            "title": "Tri des dons",
            "category_id": w.categories[0],
        }
        response = await bob.post("/api/v1/me/entries", json=body)
        assert response.status_code == 201, response.text
        entry = response.json()
        assert entry["status"] == "pending"
        assert entry["start_date"] == today().isoformat()
        assert entry["duration_minutes"] == 60
        assert entry["member"] == "bob"
        assert entry["category"]["id"] == w.categories[0]
        again = await bob.get(f"/api/v1/me/entries/{entry['id']}")
        assert again.json() == entry


async def test_validation_errors_name_the_field(app: Starlette) -> None:
    w = await world(app)
    async with w.client(app, "bob") as bob:
        response = await bob.post(
            "/api/v1/me/entries",
            json={"association": "restos", "title": "x", "category_id": w.categories[0], "start_date": "2999-01-01"},
        )
        assert response.status_code == 422
        error = error_of(response)
        assert error["code"] == "invalid"
        assert set(error["fields"]) == {"start_date", "duration_minutes"}
        wrong_type = await bob.post(
            "/api/v1/me/entries", json={"association": "restos", "title": 3, "category_id": "x"}
        )
        assert wrong_type.status_code == 422
        assert {"title", "category_id"} <= set(error_of(wrong_type)["fields"])
        unknown = await bob.post(
            "/api/v1/me/entries", json={"association": "nowhere", "title": "x", "category_id": 1, "duration_minutes": 5}
        )
        assert unknown.status_code == 422
        assert "association" in error_of(unknown)["fields"]
        not_json = await bob.post("/api/v1/me/entries", content=b"{", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 400
        assert error_of(not_json)["code"] == "bad_request"


async def test_a_non_member_cannot_log_time(app: Starlette) -> None:
    w = await world(app)
    async with w.client(app, "carol") as carol:
        body = {"association": "restos", "duration_minutes": 60, "title": "x", "category_id": w.categories[0]}
        response = await carol.post("/api/v1/me/entries", json=body)
        assert response.status_code == 403
        assert error_of(response)["code"] == "forbidden"


async def test_edit_and_withdraw(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    (entry_id,) = await add_entries(instance, w, w.bob, 1, "approved")
    async with w.client(app, "bob") as bob:
        edited = await bob.patch(f"/api/v1/me/entries/{entry_id}", json={"title": "Sorting", "duration_minutes": 90})
        assert edited.status_code == 200, edited.text
        assert edited.json()["title"] == "Sorting"
        assert edited.json()["duration_minutes"] == 90
        assert edited.json()["status"] == "pending"  # restos moderates: the edit waits for approval again
        bad = await bob.patch(f"/api/v1/me/entries/{entry_id}", json={"distance_km": "far"})
        assert bad.status_code == 422
        assert set(error_of(bad)["fields"]) == {"distance_km"}
        withdrawn = await bob.post(f"/api/v1/me/entries/{entry_id}/withdraw")
        assert withdrawn.json()["status"] == "withdrawn"
        late = await bob.patch(f"/api/v1/me/entries/{entry_id}", json={"title": "Again"})
        assert late.status_code == 409
        assert error_of(late)["code"] == "conflict"


async def test_another_persons_entry_is_not_found(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    (entry_id,) = await add_entries(instance, w, w.bob, 1)
    async with w.client(app, "carol") as carol:
        for response in (
            await carol.get(f"/api/v1/me/entries/{entry_id}"),
            await carol.patch(f"/api/v1/me/entries/{entry_id}", json={"title": "Mine now"}),
            await carol.post(f"/api/v1/me/entries/{entry_id}/withdraw"),
        ):
            assert response.status_code == 404
            assert error_of(response)["code"] == "not_found"


async def test_the_list_walks_every_entry_once_with_filters(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    pending = await add_entries(instance, w, w.bob, 45)
    approved = await add_entries(instance, w, w.bob, 7, "approved")
    await add_entries(instance, w, w.alice, 3)
    async with w.client(app, "bob") as bob:
        every = await walk(bob, "/api/v1/me/entries", limit=10)
        assert sorted(e["id"] for e in every) == sorted(pending + approved)
        dates = [(e["start_date"], e["id"]) for e in every]
        assert dates == sorted(dates, reverse=True)
        only = await walk(bob, "/api/v1/me/entries", status="approved", limit=3)
        assert sorted(e["id"] for e in only) == sorted(approved)
        recent = await walk(bob, "/api/v1/me/entries", **{"from": today().isoformat()})
        assert all(e["start_date"] == today().isoformat() for e in recent) and recent
        elsewhere = await bob.get("/api/v1/me/entries", params={"association": "elsewhere"})
        assert elsewhere.json() == {"items": [], "next_cursor": None}
        bad = await bob.get("/api/v1/me/entries", params={"limit": "0", "from": "yesterday"})
        assert bad.status_code == 422
        assert set(error_of(bad)["fields"]) == {"limit", "from"}
        for cursor in ("nonsense", "WzFd", "WyJ4IiwxXQ"):  # not base64 JSON; [1]; ["x",1]
            forged = await bob.get("/api/v1/me/entries", params={"cursor": cursor})
            assert forged.status_code == 422
            assert set(error_of(forged)["fields"]) == {"cursor"}


async def test_csv_export_of_my_entries(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    await add_entries(instance, w, w.bob, 3, "approved")
    async with w.client(app, "bob") as bob:
        response = await bob.get("/api/v1/me/entries.csv", params={"year": "all"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.content.decode("utf-8-sig").strip().splitlines()
        assert len(lines) == 4
        assert lines[0].startswith("Name,")


async def test_missing_and_read_only_tokens(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with api(app) as nobody, w.client(app, "bob-read") as reader:
        missing = await nobody.get("/api/v1/me/entries")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert error_of(missing)["code"] == "unauthorized"
        assert (await reader.get("/api/v1/me/entries")).status_code == 200
        body = {"association": "restos", "duration_minutes": 60, "title": "x", "category_id": w.categories[0]}
        refused = await reader.post("/api/v1/me/entries", json=body)
        assert refused.status_code == 403


async def test_ids_too_large_to_exist(app: Starlette) -> None:
    w = await world(app)
    async with w.client(app, "bob") as bob:
        assert (await bob.get("/api/v1/me/entries/99999999999")).status_code == 404
        body = {"association": "restos", "duration_minutes": 5, "title": "x", "project_id": 99999999999}
        too_large = await bob.post("/api/v1/me/entries", json=body)
        assert too_large.status_code == 422
        assert set(error_of(too_large)["fields"]) == {"project_id"}
