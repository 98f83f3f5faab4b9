"""Follows across two instances: a volunteer on a.test follows associations on b.test, through the pages."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from federation import follows
from federation.remote import find_actor
from federation.runtime import Federation
from instance.models import Association, Delivery, DeliveryState, Follow, FollowState, InboxItem, RemoteActor
from tests.conftest import post_form
from tests.federation_support import Pair, post_signed

RESTOS = "https://b.test/associations/restos"
ALICE = "https://a.test/users/alice"


async def follow_page(browser: httpx.AsyncClient) -> str:
    response = await browser.get("/follows")
    assert response.status_code == 200
    return response.text


async def ask_to_follow(browser: httpx.AsyncClient, target: str) -> httpx.Response:
    return await post_form(browser, "/follows", {"target": target}, page="/follows")


async def setup(pair: Pair, *, moderated: bool) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    """Given alice on a.test, and bob managing the association restos on b.test."""
    alice = await pair.a.person("alice")
    bob = await pair.b.person("bob")
    await pair.b.association("bob", "restos", moderate_membership=moderated)
    return alice, bob


async def b_follow(pair: Pair) -> Follow:
    [row] = await pair.b.rows(Follow)
    return row


async def test_webfinger_finds_an_association_on_the_other_instance(pair: Pair) -> None:
    await setup(pair, moderated=False)
    federation: Federation = pair.a.app.state.federation

    async with pair.a.instance.sessions() as db:
        actor = await find_actor(db, federation.client, "@restos@b.test")
        await db.commit()

    assert actor.uri == RESTOS
    assert actor.actor_type == "Group" and actor.name == "Restos"
    assert actor.inbox == f"{RESTOS}/inbox" and actor.shared_inbox == "https://b.test/inbox"
    assert actor.key_id == f"{RESTOS}#main-key" and "BEGIN PUBLIC KEY" in actor.public_key_pem
    assert actor.assertion_methods[0]["id"] == f"{RESTOS}#ed25519-key"
    assert [r.url.path for r in pair.router.to("b.test")] == ["/.well-known/webfinger", "/associations/restos"]
    assert "signature" in pair.router.to("b.test")[1].headers  # fetched signed by the instance actor


async def test_following_an_open_association_is_accepted_at_once(pair: Pair) -> None:
    alice, bob = await setup(pair, moderated=False)

    response = await ask_to_follow(alice, "@restos@b.test")

    assert response.status_code == 303
    assert "Waiting for an answer" in await follow_page(alice)
    await pair.settle()
    page = await follow_page(alice)
    assert "Accepted" in page and "@restos@b.test" in page
    row = await b_follow(pair)
    assert (row.follower_uri, row.followed_uri, row.state) == (ALICE, RESTOS, FollowState.ACCEPTED)
    managers = await bob.get("/associations/restos/remote-followers")
    assert "@alice@a.test" in managers.text
    async with pair.b.instance.sessions() as db:
        association = await db.scalar(select(Association).where(Association.handle == "restos"))
        assert association is not None
        assert await follows.accepted_remote_followers(db, association) == 1
    assert await pair.a.count(Delivery, Delivery.state != DeliveryState.SENT) == 0


async def test_a_moderated_association_decides_and_the_volunteer_sees_it(pair: Pair) -> None:
    alice, bob = await setup(pair, moderated=True)
    await ask_to_follow(alice, "https://b.test/associations/restos")
    await pair.settle()
    assert "Waiting for an answer" in await follow_page(alice)
    row = await b_follow(pair)
    assert row.state == FollowState.PENDING
    page = await bob.get("/associations/restos/remote-followers")
    assert "Requests to follow" in page.text and "@alice@a.test" in page.text

    response = await post_form(
        bob, f"/associations/restos/remote-followers/{row.id}/accept", page="/associations/restos/remote-followers"
    )

    assert response.status_code == 303
    await pair.settle()
    assert "Accepted" in await follow_page(alice)
    assert (await b_follow(pair)).state == FollowState.ACCEPTED


async def test_a_refused_request_shows_as_refused(pair: Pair) -> None:
    alice, bob = await setup(pair, moderated=True)
    await ask_to_follow(alice, "@restos@b.test")
    await pair.settle()
    row = await b_follow(pair)

    await post_form(
        bob, f"/associations/restos/remote-followers/{row.id}/reject", page="/associations/restos/remote-followers"
    )
    await pair.settle()

    assert "Refused or removed" in await follow_page(alice)
    [mine] = await pair.a.rows(Follow)
    assert mine.state == FollowState.REJECTED


async def test_only_managers_see_the_requests(pair: Pair) -> None:
    await setup(pair, moderated=True)
    carol = await pair.b.person("carol")

    response = await carol.get("/associations/restos/remote-followers")

    assert response.status_code == 403


async def test_stop_following_sends_undo(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=False)
    await ask_to_follow(alice, "@restos@b.test")
    await pair.settle()
    [mine] = await pair.a.rows(Follow)

    response = await post_form(alice, f"/follows/{mine.id}/stop", page="/follows")
    await pair.settle()

    assert response.status_code == 303
    assert await pair.b.count(Follow) == 0
    assert await pair.a.count(Follow) == 0
    assert "You follow no association" in await follow_page(alice)


async def test_removal_by_the_association_sends_reject(pair: Pair) -> None:
    alice, bob = await setup(pair, moderated=False)
    await ask_to_follow(alice, "@restos@b.test")
    await pair.settle()
    row = await b_follow(pair)

    await post_form(
        bob, f"/associations/restos/remote-followers/{row.id}/remove", page="/associations/restos/remote-followers"
    )
    await pair.settle()

    assert "Refused or removed" in await follow_page(alice)
    assert (await b_follow(pair)).state == FollowState.REJECTED


async def test_following_twice_is_refused_and_unknown_addresses_too(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=True)
    await ask_to_follow(alice, "@restos@b.test")

    again = await ask_to_follow(alice, "@restos@b.test")
    unknown = await ask_to_follow(alice, "@nobody@b.test")
    local = await ask_to_follow(alice, "@alice@a.test")
    person = await ask_to_follow(alice, "@bob@b.test")

    assert again.status_code == 400 and "already follow" in again.text
    assert unknown.status_code == 400 and "No association could be found" in unknown.text
    assert local.status_code == 400 and "on this instance" in local.text
    assert person.status_code == 400 and "not an association" in person.text
    assert await pair.a.count(Follow) == 1


async def test_an_accept_from_another_actor_changes_nothing(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=True)
    await ask_to_follow(alice, "@restos@b.test")
    await pair.settle()
    [mine] = await pair.a.rows(Follow)
    await pair.b.person("mallory")
    keys = await pair.b.keys("mallory")
    accept = {
        "id": "https://b.test/users/mallory/activities/1",
        "type": "Accept",
        "actor": "https://b.test/users/mallory",
        "object": {"id": mine.activity_id, "type": "Follow", "actor": ALICE, "object": RESTOS},
    }

    response = await post_signed(pair.a, "/inbox", accept, keys)
    await pair.settle()

    assert response.status_code == 202
    [item] = await pair.a.rows(InboxItem)
    assert item.state == "ignored"
    assert (await pair.a.rows(Follow))[0].state == FollowState.PENDING


async def test_a_deleted_actor_loses_its_follows(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=False)
    await ask_to_follow(alice, "@restos@b.test")
    await pair.settle()
    keys = await pair.a.keys("alice")
    delete = {"id": f"{ALICE}#delete", "type": "Delete", "actor": ALICE, "object": ALICE}

    response = await post_signed(pair.b, "/inbox", delete, keys)
    await pair.settle()

    assert response.status_code == 202
    assert await pair.b.count(Follow) == 0
    assert await pair.b.count(RemoteActor, RemoteActor.uri == ALICE) == 0
