"""Discovery over HTTP: WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import select

from instance.models import Association, Category, TimeEntry, User, utcnow
from instance.runtime import Instance
from tests.conftest import create_user
from tests.test_federation_actors import make_association

BASE = "https://a.test"
JRD = "application/jrd+json"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"instance_name": "Bénévoles du Nord", "user_registration": "closed"}


async def finger(client: httpx.AsyncClient, resource: str) -> httpx.Response:
    return await client.get("/.well-known/webfinger", params={"resource": resource})


async def test_webfinger_finds_a_volunteer(client: httpx.AsyncClient, instance: Instance) -> None:
    await create_user(instance)

    response = await finger(client, "acct:alice@a.test")

    assert response.status_code == 200
    assert response.headers["content-type"] == JRD
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {
        "subject": "acct:alice@a.test",
        "aliases": [f"{BASE}/users/alice"],
        "links": [{"rel": "self", "type": "application/activity+json", "href": f"{BASE}/users/alice"}],
    }


async def test_webfinger_finds_an_association_by_acct_or_by_url(client: httpx.AsyncClient, instance: Instance) -> None:
    await make_association(instance)

    by_acct = await finger(client, "acct:Restos@A.test")
    by_url = await finger(client, f"{BASE}/associations/restos")

    assert by_acct.status_code == by_url.status_code == 200
    assert by_acct.json() == by_url.json()
    document = by_acct.json()
    assert document["subject"] == "acct:restos@a.test"
    assert document["links"] == [
        {"rel": "self", "type": "application/activity+json", "href": f"{BASE}/associations/restos"},
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": f"{BASE}/associations/restos"},
    ]
    actor = await client.get(document["links"][0]["href"], headers={"Accept": "application/activity+json"})
    assert actor.json()["preferredUsername"] == "restos"


async def test_webfinger_finds_the_instance_actor(client: httpx.AsyncClient) -> None:
    for resource in ("acct:a.test@a.test", f"{BASE}/actor"):
        response = await finger(client, resource)
        assert response.status_code == 200
        assert response.json()["subject"] == "acct:a.test@a.test"
        assert response.json()["links"][0]["href"] == f"{BASE}/actor"


async def test_webfinger_does_not_find_unknown_hidden_or_remote_accounts(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await create_user(instance)
    await create_user(instance, "bob@example.org", "bob", active=False)
    hidden = await make_association(instance, "cachee")
    async with instance.sessions() as db:
        row = await db.get(Association, hidden.id)
        assert row is not None
        row.hidden = True
        await db.commit()

    for resource in (
        "acct:nobody@a.test",
        "acct:bob@a.test",
        "acct:cachee@a.test",
        "acct:alice@b.test",
        "https://b.test/users/alice",
        f"{BASE}/users/alice/outbox",
        f"{BASE}/users/nobody",
    ):
        response = await finger(client, resource)
        assert response.status_code == 404, resource
        assert response.headers["access-control-allow-origin"] == "*"


async def test_webfinger_refuses_malformed_resources(client: httpx.AsyncClient) -> None:
    for params in (
        {},
        {"resource": ""},
        {"resource": "alice@a.test"},
        {"resource": "acct:alice"},
        {"resource": "acct:@a.test"},
    ):
        response = await client.get("/.well-known/webfinger", params=params)
        assert response.status_code == 400, params
    twice = await client.get("/.well-known/webfinger?resource=acct:a.test@a.test&resource=acct:alice@a.test")
    assert twice.status_code == 400


async def test_host_meta_gives_the_webfinger_template(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/host-meta")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xrd+xml")
    root = ElementTree.fromstring(response.text)  # noqa: S314 (our own answer, in a test)
    link = root.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None
    assert link.get("rel") == "lrdd"
    assert link.get("template") == f"{BASE}/.well-known/webfinger?resource={{uri}}"


async def add_activity(instance: Instance) -> None:
    """Alice logged in today, Bob four months ago, Carol a year ago; Alice logged one time entry."""
    now = utcnow()
    association = await make_association(instance)
    await create_user(instance, "bob@example.org", "bob")
    await create_user(instance, "carol@example.org", "carol")
    await create_user(instance, "dan@example.org", "dan", active=False)
    async with instance.sessions() as db:
        for handle, age in (("alice", 0), ("bob", 120), ("carol", 365)):
            user = await db.scalar(select(User).where(User.handle == handle))
            assert user is not None
            user.last_login_at = now - dt.timedelta(days=age)
        alice = await db.scalar(select(User).where(User.handle == "alice"))
        category = await db.scalar(select(Category).where(Category.association_id == association.id))
        assert alice is not None and category is not None
        db.add(entry(alice, association, category, now))
        await db.commit()


def entry(user: User, association: Association, category: Category, now: dt.datetime) -> TimeEntry:
    return TimeEntry(
        user_id=user.id,
        association_id=association.id,
        category_id=category.id,
        start_date=now.date(),
        duration_minutes=90,
    )


async def test_nodeinfo_describes_the_instance(client: httpx.AsyncClient, instance: Instance) -> None:
    await add_activity(instance)

    links = await client.get("/.well-known/nodeinfo")
    assert links.status_code == 200
    assert links.headers["access-control-allow-origin"] == "*"
    hrefs = {link["rel"]: link["href"] for link in links.json()["links"]}
    assert hrefs == {
        "http://nodeinfo.diaspora.software/ns/schema/2.1": f"{BASE}/nodeinfo/2.1",
        "http://nodeinfo.diaspora.software/ns/schema/2.0": f"{BASE}/nodeinfo/2.0",
    }

    for version in ("2.1", "2.0"):
        response = await client.get(f"/nodeinfo/{version}")
        assert response.status_code == 200
        assert response.headers["content-type"] == (
            f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
        )
        document = response.json()
        assert set(document) >= {"version", "software", "protocols", "services", "openRegistrations", "usage"}
        assert document["version"] == version
        assert document["software"]["name"] == "benevalibre-fed"
        assert re.fullmatch(r"[a-z0-9-]+", document["software"]["name"])
        assert document["software"]["version"]
        assert document["protocols"] == ["activitypub"]
        assert document["services"] == {"inbound": [], "outbound": []}
        assert document["openRegistrations"] is False
        assert document["usage"] == {
            "users": {"total": 3, "activeMonth": 1, "activeHalfyear": 2},
            "localPosts": 1,
        }
        assert document["metadata"] == {"nodeName": "Bénévoles du Nord"}
    assert (await client.get("/nodeinfo/1.0")).status_code == 404
