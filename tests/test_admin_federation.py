"""The federation admin: known instances (NodeInfo), domain blocks and allow-list, the delivery queue, suspended
remote actors and reports about them; and who may not use any of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import or_, select
from starlette.applications import Starlette

from federation import delivery
from federation.discovery import software_version
from federation.nodeinfo_task import NodeInfoTask
from instance.models import (
    Association,
    Delivery,
    DeliveryState,
    FederatedDomain,
    Flag,
    Follow,
    FollowState,
    InboxItem,
    InboxState,
    Membership,
    RemoteActor,
    User,
    utcnow,
)
from instance.models.federation import INSTANCE_OWNER
from tests.associations_support import person, send
from tests.conftest import create_user, log_in, make_client, post_form
from tests.federation_support import Pair, Side, post_signed

pytest_plugins = ["tests.federation_fixtures"]

ALICE = "https://a.test/users/alice"
RESTOS = "https://b.test/associations/restos"
MEMBERS = "/associations/restos/members"

PAGES = ["/admin/federation", "/admin/federation/queue", "/admin/federation/actors"]


# -- who may use it ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
async def test_the_pages_refuse_people_who_are_not_admins(app: Starlette, path: str) -> None:
    visitor = make_client(app)
    response = await visitor.get(path)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    alice = await person(app, "alice")
    assert (await alice.get(path)).status_code == 403


async def test_the_actions_refuse_people_who_are_not_admins(app: Starlette) -> None:
    alice = await person(app, "alice")
    for path, data in [
        ("/admin/federation/domains", {"action": "block", "domain": "evil.example"}),
        ("/admin/federation/domains", {"action": "allow", "domain": "friends.example"}),
        ("/admin/federation/queue/retry", {"domain": "evil.example"}),
        ("/admin/federation/queue/retry", {"delivery_id": "1"}),
        ("/admin/federation/actors/1/suspend", {"reason": "spam"}),
        ("/admin/federation/actors/1/unsuspend", {}),
        ("/admin/federation/actors/suspend", {"uri": ALICE}),
    ]:
        assert (await send(alice, path, data)).status_code == 403, path
    admin = await person(app, "root", admin=True)
    response = await admin.post("/admin/federation/domains", data={"action": "block", "domain": "evil.example"})
    assert response.status_code == 403  # no CSRF token
    async with app.state.instance.sessions() as db:
        assert await db.scalar(select(FederatedDomain)) is None


async def test_a_domain_must_be_a_domain_and_not_our_own(app: Starlette) -> None:
    admin = await person(app, "root", admin=True)
    for typed in ("not a domain", "", "a.test", "https://a.test/users/x", "test"):
        response = await post_form(
            admin, "/admin/federation/domains", {"action": "block", "domain": typed}, page="/admin/federation"
        )
        assert response.status_code == 400, typed
        assert "such as example.org" in response.text or "own domain" in response.text


# -- helpers for two instances -------------------------------------------------------------------------------


async def admin_of(side: Side, handle: str = "root") -> httpx.AsyncClient:
    await create_user(side.instance, f"{handle}@{side.host}", handle, display_name="Root", admin=True)
    browser = side.browser()
    await log_in(browser, f"{handle}@{side.host}")
    return browser


async def submit(browser: httpx.AsyncClient, path: str, data: dict[str, Any]) -> httpx.Response:
    return await post_form(browser, path, data, page="/admin/federation")


async def join(browser: httpx.AsyncClient, handle: str, host: str) -> None:
    """Find the association ``handle`` of ``host`` and ask to join it (through its page here)."""
    found = await post_form(browser, "/follows", {"target": f"@{handle}@{host}"}, page="/follows")
    mirror = f"/associations/{handle}@{host}"
    assert found.status_code == 303 and found.headers["location"] == mirror
    assert (await post_form(browser, f"{mirror}/join", {}, page=mirror)).status_code == 303


async def alice_member_of_restos(pair: Pair) -> httpx.AsyncClient:
    """alice on a.test joins the open association restos on b.test; returns bob's browser (its manager)."""
    alice = await pair.a.person("alice")
    bob = await pair.b.person("bob")
    await pair.b.association("bob", "restos")
    await join(alice, "restos", "b.test")
    await pair.settle()
    assert [row.state for row in await pair.b.rows(Follow)] == [FollowState.ACCEPTED]
    assert "alice@a.test" in (await bob.get(MEMBERS)).text
    return bob


async def remote_memberships(side: Side) -> int:
    """Memberships of remote people here, and of people from here in remote associations."""
    remote_people = select(User.id).where(User.actor_uri.is_not(None))
    remote_groups = select(Association.id).where(Association.actor_uri.is_not(None))
    return await side.count(
        Membership, or_(Membership.user_id.in_(remote_people), Membership.association_id.in_(remote_groups))
    )


def note(number: int) -> dict[str, Any]:
    return {"id": f"{ALICE}/activities/{number}", "type": "Like", "actor": ALICE, "object": RESTOS}


async def queue_to_a(pair: Pair, number: int = 1) -> None:
    """b.test queues an activity of its instance actor for a.test's shared inbox."""
    activity = {"id": f"https://b.test/activities/{number}", "type": "Like", "actor": "https://b.test/actor"}
    async with pair.b.instance.sessions() as db:
        await delivery.enqueue(db, activity, INSTANCE_OWNER, ["https://a.test/inbox"])
        await db.commit()


# -- known instances and NodeInfo ----------------------------------------------------------------------------


async def test_known_instances_show_their_software_read_by_the_worker(pair: Pair) -> None:
    await alice_member_of_restos(pair)
    root = await admin_of(pair.b)
    assert pair.router.to("a.test") and not [r for r in pair.router.to("a.test") if "nodeinfo" in r.url.path]
    task = NodeInfoTask(pair.b.instance.sessions, pair.b.app.state.federation.client, interval=0)

    assert await task.run_once() == 1
    page = await root.get("/admin/federation")

    assert page.status_code == 200
    assert "a.test" in page.text and "benevalibre-fed" in page.text and software_version() in page.text
    [row] = await pair.b.rows(FederatedDomain)
    assert (row.software, row.software_version) == ("benevalibre-fed", software_version())
    assert [r.url.path for r in pair.router.to("a.test") if "nodeinfo" in r.url.path] == [
        "/.well-known/nodeinfo",
        "/nodeinfo/2.1",
    ]
    assert await task.run_once() == 0  # read once, not again while it is fresh
    assert len([r for r in pair.router.to("a.test") if "nodeinfo" in r.url.path]) == 2
    assert "<strong>a.test</strong>" in (await root.get("/admin/federation?q=A.TE")).text
    nothing = await root.get("/admin/federation?q=zzz")
    assert "<strong>a.test</strong>" not in nothing.text and "No instance matches." in nothing.text


async def test_known_instances_are_paginated(pair: Pair) -> None:
    async with pair.b.instance.sessions() as db:
        for number in range(30):
            db.add(FederatedDomain(domain=f"server{number:02d}.example", blocked=True))
        await db.commit()
    root = await admin_of(pair.b)

    first = await root.get("/admin/federation")
    second = await root.get("/admin/federation?page=2")

    assert "server00.example" in first.text and "server29.example" not in first.text
    assert "Page 1 of 2" in first.text and "server29.example" in second.text
    assert "30 instances" in first.text


# -- domain blocks -------------------------------------------------------------------------------------------


async def test_blocking_a_domain_cuts_follows_deliveries_and_inbox(pair: Pair) -> None:
    bob = await alice_member_of_restos(pair)
    carol = await pair.b.person("carol")  # carol on b.test follows the association amis on a.test
    await pair.a.person("dave")
    await pair.a.association("dave", "amis")
    await join(carol, "amis", "a.test")
    await pair.settle()
    assert await pair.b.count(Follow) == 2 and await remote_memberships(pair.b) == 2
    pair.router.down["a.test"] = 503
    await queue_to_a(pair)
    await pair.b.worker.run_once()
    [waiting] = await pair.b.rows(Delivery, Delivery.state == DeliveryState.PENDING)
    del pair.router.down["a.test"]
    keys = await pair.a.keys("alice")
    assert (await post_signed(pair.b, "/inbox", note(1), keys)).status_code == 202  # not handled yet
    root = await admin_of(pair.b)

    response = await submit(
        root, "/admin/federation/domains", {"action": "block", "domain": "A.test", "reason": "spam"}
    )

    assert response.status_code == 303
    page = await root.get(response.headers["location"])
    assert "a.test is blocked: 2 follows removed, 1 deliveries stopped, 1 received activities ignored." in page.text
    assert "blocked" in page.text and "spam" in page.text
    assert await pair.b.count(Follow) == 0 and await remote_memberships(pair.b) == 0
    assert "alice@a.test" not in (await bob.get(MEMBERS)).text
    [stopped] = await pair.b.rows(Delivery, Delivery.id == waiting.id)
    assert (stopped.state, stopped.last_error) == (DeliveryState.FAILED, "blocked: spam")
    [item] = await pair.b.rows(InboxItem, InboxItem.activity_id == note(1)["id"])
    assert item.state == InboxState.IGNORED
    pair.router.requests.clear()
    refused = await post_signed(pair.b, "/inbox", note(2), keys)
    assert refused.status_code == 403 and pair.router.to("a.test") == []  # no key fetched
    await pair.settle()
    assert pair.router.to("a.test") == []  # nothing sent, no NodeInfo read

    response = await submit(root, "/admin/federation/domains", {"action": "unblock", "domain": "a.test"})

    assert response.status_code == 303
    assert (await post_signed(pair.b, "/inbox", note(3), keys)).status_code == 202
    assert await pair.b.count(Follow) == 0  # unblocking restores nothing


async def test_allow_list_mode_hears_only_allowed_domains(pair: Pair) -> None:
    root = await admin_of(pair.b)
    await pair.a.user("alice")
    keys = await pair.a.keys("alice")
    page = await root.get("/admin/federation")
    assert "Allow-list mode is on" in page.text
    assert (await post_signed(pair.b, "/inbox", note(1), keys)).status_code == 403

    response = await submit(root, "/admin/federation/domains", {"action": "allow", "domain": "a.test"})

    assert response.status_code == 303
    assert "allowed" in (await root.get("/admin/federation")).text
    assert (await post_signed(pair.b, "/inbox", note(2), keys)).status_code == 202
    await submit(root, "/admin/federation/domains", {"action": "disallow", "domain": "a.test"})
    assert (await post_signed(pair.b, "/inbox", note(3), keys)).status_code == 403


@pytest.fixture
def federation_overrides(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    if request.node.name.startswith("test_allow_list_mode"):
        return {"b.test": {"federation_allowlist_only": True}}
    return {}


# -- the delivery queue --------------------------------------------------------------------------------------


async def test_a_failed_delivery_shows_its_error_and_is_retried_now(pair: Pair) -> None:
    await pair.a.user("alice")
    pair.router.down["a.test"] = 410
    await queue_to_a(pair)
    await pair.b.worker.run_once()
    root = await admin_of(pair.b)
    page = await root.get("/admin/federation/queue")
    assert "HTTP 410: unavailable" in page.text and ">410<" in page.text
    [row] = await pair.b.rows(Delivery)
    assert row.state == DeliveryState.FAILED
    del pair.router.down["a.test"]

    response = await post_form(
        root, "/admin/federation/queue/retry", {"delivery_id": str(row.id)}, page="/admin/federation/queue"
    )

    assert response.status_code == 303
    [row] = await pair.b.rows(Delivery)
    assert (row.state, row.attempts) == (DeliveryState.PENDING, 0)
    assert "Waiting deliveries" in (page := await root.get("/admin/federation/queue")).text and row.inbox in page.text
    await pair.settle()
    [row] = await pair.b.rows(Delivery)
    assert row.state == DeliveryState.SENT


async def test_an_unavailable_domain_is_tried_again_now(pair: Pair) -> None:
    await pair.a.user("alice")
    await queue_to_a(pair, 1)
    await queue_to_a(pair, 2)
    week_ago = utcnow() - dt.timedelta(days=8)
    async with pair.b.instance.sessions() as db:
        db.add(
            FederatedDomain(
                domain="a.test", failing_since=week_ago, unavailable_since=utcnow(), last_failure_at=utcnow()
            )
        )
        await db.commit()
    await pair.b.worker.run_once()
    assert pair.router.to("a.test") == []  # waits a day before probing
    root = await admin_of(pair.b)
    page = await root.get("/admin/federation/queue")
    assert "Unavailable domains" in page.text and "Try again now" in page.text
    assert "unavailable" in (await root.get("/admin/federation")).text

    response = await post_form(
        root, "/admin/federation/queue/retry", {"domain": "a.test"}, page="/admin/federation/queue"
    )

    assert response.status_code == 303
    assert "2 deliveries to a.test will be tried again now." in (await root.get("/admin/federation/queue")).text
    await pair.settle()
    assert await pair.b.count(Delivery, Delivery.state == DeliveryState.SENT) == 2
    [domain] = await pair.b.rows(FederatedDomain)
    assert domain.unavailable_since is None and domain.last_success_at is not None


async def test_the_dashboard_counts_deliveries_and_instances(pair: Pair) -> None:
    pair.router.down["a.test"] = 503
    await queue_to_a(pair, 1)
    await queue_to_a(pair, 2)
    root = await admin_of(pair.b)

    page = await root.get("/admin")

    assert 'href="/admin/federation/queue">Deliveries</a>' in page.text
    assert "<strong>2</strong> waiting" in page.text and "<strong>0</strong> instances known" in page.text
    await pair.b.worker.run_once()
    assert "<strong>1</strong> instances known" in (await root.get("/admin")).text


# -- suspended remote actors and reports ---------------------------------------------------------------------


async def test_a_suspended_actor_is_refused_and_loses_its_follows(pair: Pair) -> None:
    bob = await alice_member_of_restos(pair)
    keys = await pair.a.keys("alice")
    assert (await post_signed(pair.b, "/inbox", note(1), keys)).status_code == 202  # waiting for the worker
    root = await admin_of(pair.b)
    page = await root.get("/admin/federation/actors?q=alice")
    assert "@alice@a.test" in page.text
    [actor] = await pair.b.rows(RemoteActor, RemoteActor.uri == ALICE)

    response = await post_form(
        root, f"/admin/federation/actors/{actor.id}/suspend", {"reason": "insults"}, page="/admin/federation/actors"
    )

    assert response.status_code == 303
    page = await root.get("/admin/federation/actors?suspended=1")
    assert "@alice@a.test is suspended: 1 follows removed" in page.text and "insults" in page.text
    assert await pair.b.count(Follow) == 0 and await remote_memberships(pair.b) == 0
    assert "alice@a.test" not in (await bob.get(MEMBERS)).text
    [item] = await pair.b.rows(InboxItem, InboxItem.activity_id == note(1)["id"])
    assert item.state == InboxState.IGNORED
    pair.router.requests.clear()
    assert (await post_signed(pair.b, "/inbox", note(2), keys)).status_code == 403
    assert pair.router.to("a.test") == []
    assert await pair.b.count(InboxItem, InboxItem.activity_id == note(2)["id"]) == 0

    await post_form(root, f"/admin/federation/actors/{actor.id}/unsuspend", page="/admin/federation/actors")

    assert (await post_signed(pair.b, "/inbox", note(3), keys)).status_code == 202
    assert "No account matches." in (await root.get("/admin/federation/actors?suspended=1")).text


async def test_a_manager_reports_a_remote_actor_and_the_admin_suspends_it(pair: Pair) -> None:
    bob = await alice_member_of_restos(pair)

    sent = await post_form(
        bob, "/report", {"kind": "remote", "target": "@alice@a.test", "reason": "fake hours"}, page=MEMBERS
    )

    assert sent.status_code == 303
    [flag] = await pair.b.rows(Flag)
    assert (flag.target_kind, flag.target_ref) == ("remote", ALICE)
    root = await admin_of(pair.b)
    reports = await root.get("/admin/reports")
    assert "Account of another server" in reports.text and "fake hours" in reports.text
    assert "Suspend this account" in reports.text
    unknown = {"kind": "remote", "target": "@nobody@a.test", "reason": "who?"}
    assert (await post_form(bob, "/report", unknown, page=MEMBERS)).status_code == 404

    response = await post_form(
        root,
        "/admin/federation/actors/suspend",
        {"uri": ALICE, "reason": "fake hours", "next": "/admin/reports"},
        page="/admin/reports",
    )

    assert response.status_code == 303 and response.headers["location"] == "/admin/reports"
    [actor] = await pair.b.rows(RemoteActor, RemoteActor.uri == ALICE)
    assert actor.suspended_at is not None and actor.suspension_reason == "fake hours"
    assert (await post_signed(pair.b, "/inbox", note(9), await pair.a.keys("alice"))).status_code == 403
