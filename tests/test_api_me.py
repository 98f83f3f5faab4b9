"""The account through the API, the data archive ("my data"), an association's archive, and deleting an
account with either choice for the entries kept by associations."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import TimeEntry, User
from instance.runtime import Instance
from tests.api_support import add_entries, error_of, world
from tests.associations_support import send
from tests.conftest import PASSWORD, log_in, make_client


async def test_me_and_profile_changes(app: Starlette) -> None:
    w = await world(app)
    async with w.client(app, "bob") as bob:
        me = await bob.get("/api/v1/me")
        assert me.json()["address"] == "@bob@a.test"
        changed = await bob.patch("/api/v1/me", json={"pseudonym": "Bobby", "language": "fr"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["public_name"] == "Bobby"
        assert changed.json()["display_name"] == "Bob"  # left as it was
        bad = await bob.patch("/api/v1/me", json={"language": "xx", "colour": "red"})
        assert bad.status_code == 422
        assert set(error_of(bad)["fields"]) == {"language", "colour"}
        too_long = await bob.patch("/api/v1/me", json={"display_name": "x" * 200})
        assert too_long.status_code == 422
        assert set(error_of(too_long)["fields"]) == {"display_name"}
    async with w.client(app, "bob-read") as reader:
        assert (await reader.patch("/api/v1/me", json={"pseudonym": "x"})).status_code == 403


def read_zip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


async def test_my_archive_holds_everything_about_me(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    ids = await add_entries(instance, w, w.bob, 1203 // 2)  # more than one batch
    async with w.client(app, "bob") as bob:
        body = {"association": "restos", "duration_minutes": 45, "title": "Phone"}
        assert (await bob.post("/api/v1/me/entries", json=body)).status_code == 201
        response = await bob.get("/api/v1/me/archive")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    files = read_zip(response.content)
    assert set(files) == {
        "README.txt",
        "profile.json",
        "memberships.json",
        "entries.json",
        "entries.csv",
        "notifications.json",
        "record.json",
    }
    profile = json.loads(files["profile.json"])
    assert profile["handle"] == "bob"
    assert {t["name"] for t in profile["api_tokens"]} == {"test"}
    assert all("secret" not in json.dumps(t) and len(t["prefix"]) == 12 for t in profile["api_tokens"])
    assert [m["association"] for m in json.loads(files["memberships.json"])] == ["restos"]
    entries = json.loads(files["entries.json"])
    assert len(entries) == len(ids) + 1
    assert len({e["id"] for e in entries}) == len(entries)
    rows = list(csv.reader(io.StringIO(files["entries.csv"].decode("utf-8-sig"))))
    assert len(rows) == len(ids) + 2
    assert json.loads(files["notifications.json"]) == []
    async with w.client(app, "alice") as alice:
        archive = read_zip((await alice.get("/api/v1/me/archive")).content)
    notes = json.loads(archive["notifications.json"])
    assert len(notes) == 1 and "Bob" in notes[0]["text"]
    assert json.loads(archive["entries.json"]) == []


async def test_my_data_page_and_download(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    await add_entries(instance, w, w.bob, 2)
    browser = make_client(app)
    browser.headers["Accept-Language"] = "en"
    await log_in(browser, "bob@example.org")
    page = await browser.get("/me/data")
    assert page.status_code == 200
    assert "/me/data/archive.zip" in page.text
    files = read_zip((await browser.get("/me/data/archive.zip")).content)
    assert len(json.loads(files["entries.json"])) == 2
    anonymous = make_client(app)
    assert (await anonymous.get("/me/data/archive.zip")).status_code == 303


async def test_association_archive_for_its_managers(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    await add_entries(instance, w, w.bob, 3)
    manager = make_client(app)
    await log_in(manager, "alice@example.org")
    response = await manager.get("/associations/restos/data.zip")
    assert response.status_code == 200
    files = read_zip(response.content)
    assert set(files) == {
        "association.json",
        "roles.json",
        "members.json",
        "catalog.json",
        "entries.json",
        "entries.csv",
    }
    assert json.loads(files["association.json"])["handle"] == "restos"
    assert sorted(m["handle"] for m in json.loads(files["members.json"])) == ["alice", "bob"]
    assert len(json.loads(files["entries.json"])) == 3
    assert json.loads(files["catalog.json"])["categories"]
    async with w.client(app, "alice") as alice:
        assert read_zip((await alice.get("/api/v1/associations/restos/archive")).content).keys() == files.keys()
    member = make_client(app)
    await log_in(member, "bob@example.org")
    assert (await member.get("/associations/restos/data.zip")).status_code == 403
    async with w.client(app, "bob") as bob:
        assert (await bob.get("/api/v1/associations/restos/archive")).status_code == 403


async def entries_of_restos(instance: Instance, association_id: int) -> list[TimeEntry]:
    async with instance.sessions() as db:
        rows = await db.scalars(select(TimeEntry).where(TimeEntry.association_id == association_id))
        return list(rows)


async def test_delete_through_the_api_keeping_the_hours(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    await add_entries(instance, w, w.bob, 2, "approved")
    async with w.client(app, "bob") as bob:
        wrong = await bob.request("DELETE", "/api/v1/me", json={"password": "nope", "entries": "keep"})
        assert wrong.status_code == 422
        assert set(error_of(wrong)["fields"]) == {"password"}
        no_choice = await bob.request("DELETE", "/api/v1/me", json={"password": PASSWORD})
        assert set(error_of(no_choice)["fields"]) == {"entries"}
        done = await bob.request("DELETE", "/api/v1/me", json={"password": PASSWORD, "entries": "keep"})
        assert done.status_code == 204
        assert (await bob.get("/api/v1/me")).status_code == 401  # the token went with the account
    entries = await entries_of_restos(instance, w.restos.id)
    assert [(e.user_id, e.participant_name, e.status) for e in entries] == [(None, "Former member", "approved")] * 2
    async with w.client(app, "alice") as alice:
        stats = await alice.get("/api/v1/associations/restos/statistics", params={"from": "2000-01-01"})
        assert stats.json()["totals"]["entries"] == 2


async def test_delete_through_the_form_withdrawing_the_hours(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    await add_entries(instance, w, w.bob, 2, "approved")
    browser = make_client(app)
    browser.headers["Accept-Language"] = "en"
    await log_in(browser, "bob@example.org")
    form = await browser.get("/me/delete")
    assert 'value="withdraw"' in form.text
    refused = await send(browser, "/me/delete", {"password": PASSWORD, "entries": "maybe"})
    assert refused.status_code == 400
    done = await send(browser, "/me/delete", {"password": PASSWORD, "entries": "withdraw"})
    assert done.status_code == 303
    entries = await entries_of_restos(instance, w.restos.id)
    assert [(e.user_id, e.participant_name, e.status) for e in entries] == [(None, "Former member", "withdrawn")] * 2
    async with instance.sessions() as db:
        assert await db.scalar(select(User).where(User.handle == "bob")) is None
    async with w.client(app, "alice") as alice:
        stats = await alice.get("/api/v1/associations/restos/statistics", params={"from": "2000-01-01"})
        assert stats.json()["totals"]["entries"] == 0
