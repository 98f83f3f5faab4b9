"""Joining an association of another instance: a volunteer on a.test finds restos on b.test, joins it, and the
managers on b.test decide, through the pages of both instances."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from federation import follows
from federation.remote import find_actor
from federation.runtime import Federation
from instance.models import (
    Association,
    Delivery,
    DeliveryState,
    Follow,
    FollowState,
    InboxItem,
    Membership,
    MembershipStatus,
    RemoteActor,
    User,
)
from tests.conftest import post_form
from tests.federation_support import Pair, post_signed

RESTOS = "https://b.test/associations/restos"
ALICE = "https://a.test/users/alice"
MIRROR = "/associations/restos@b.test"


async def find(browser: httpx.AsyncClient, target: str) -> httpx.Response:
    return await post_form(browser, "/follows", {"target": target}, page="/follows")


async def join(pair: Pair, alice: httpx.AsyncClient) -> None:
    found = await find(alice, "@restos@b.test")
    assert found.status_code == 303 and found.headers["location"] == MIRROR
    joined = await post_form(alice, f"{MIRROR}/join", {}, page=MIRROR)
    assert joined.status_code == 303


async def setup(pair: Pair, *, moderated: bool) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    """Given alice on a.test, and bob managing the association restos on b.test."""
    alice = await pair.a.person("alice")
    bob = await pair.b.person("bob")
    await pair.b.association("bob", "restos", moderate_membership=moderated)
    return alice, bob


async def b_membership(pair: Pair) -> Membership | None:
    rows = await pair.b.rows(Membership, Membership.user_id.in_(select(User.id).where(User.actor_uri == ALICE)))
    return rows[0] if rows else None


async def a_membership(pair: Pair) -> Membership | None:
    rows = await pair.a.rows(
        Membership, Membership.association_id.in_(select(Association.id).where(Association.actor_uri == RESTOS))
    )
    return rows[0] if rows else None


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
    assert actor.catalog == f"{RESTOS}/catalog"
    assert [r.url.path for r in pair.router.to("b.test")] == ["/.well-known/webfinger", "/associations/restos"]
    assert "signature" in pair.router.to("b.test")[1].headers  # fetched signed by the instance actor


async def test_the_profile_of_a_remote_association_shows_and_its_catalog_is_copied(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=False)

    await find(alice, "https://b.test/associations/restos")
    page = await alice.get(MIRROR)

    assert page.status_code == 200
    assert "Restos" in page.text and "another instance" in page.text and "Join" in page.text
    [mirror] = await pair.a.rows(Association, Association.actor_uri == RESTOS)
    assert mirror.catalog_fetched_at is not None
    listing = await alice.get("/follows")
    assert "Restos" in listing.text
    # the mirror is not a local association: not in the directory, not an actor here
    assert "Restos" not in (await alice.get("/associations")).text
    actor = await alice.get(MIRROR, headers={"Accept": "application/activity+json"})
    assert actor.status_code == 404


async def test_joining_an_open_association_is_accepted_at_once(pair: Pair) -> None:
    alice, bob = await setup(pair, moderated=False)

    await join(pair, alice)

    assert "Request pending" in (await alice.get(MIRROR)).text
    await pair.settle()
    assert "Log time" in (await alice.get(MIRROR)).text
    mine = await a_membership(pair)
    assert mine is not None and mine.status == MembershipStatus.ACTIVE
    theirs = await b_membership(pair)
    assert theirs is not None and theirs.status == MembershipStatus.ACTIVE
    members = await bob.get("/associations/restos/members")
    assert "alice@a.test" in members.text
    [row] = await pair.b.rows(Follow)
    assert (row.follower_uri, row.followed_uri, row.state) == (ALICE, RESTOS, FollowState.ACCEPTED)
    async with pair.b.instance.sessions() as db:
        association = await db.scalar(select(Association).where(Association.handle == "restos"))
        assert association is not None
        assert await follows.accepted_remote_followers(db, association) == 1
    assert await pair.a.count(Delivery, Delivery.state != DeliveryState.SENT) == 0
    assert await pair.b.count(Delivery, Delivery.state != DeliveryState.SENT) == 0


async def test_a_moderated_association_decides_and_the_volunteer_sees_it(pair: Pair) -> None:
    alice, bob = await setup(pair, moderated=True)
    await join(pair, alice)
    await pair.settle()
    theirs = await b_membership(pair)
    assert theirs is not None and theirs.status == MembershipStatus.PENDING
    page = await bob.get("/associations/restos/members")
    assert "alice@a.test" in page.text

    members = "/associations/restos/members"
    response = await post_form(bob, f"{members}/{theirs.id}/approve", {}, page=members)

    assert response.status_code == 303
    await pair.settle()
    mine = await a_membership(pair)
    assert mine is not None and mine.status == MembershipStatus.ACTIVE
    assert "Log time" in (await alice.get(MIRROR)).text


async def test_a_refused_request_ends_the_membership_on_both_sides(pair: Pair) -> None:
    alice, bob = await setup(pair, moderated=True)
    await join(pair, alice)
    await pair.settle()
    theirs = await b_membership(pair)
    assert theirs is not None

    members = "/associations/restos/members"
    await post_form(bob, f"{members}/{theirs.id}/refuse", {}, page=members)
    await pair.settle()

    assert await a_membership(pair) is None and await b_membership(pair) is None
    assert "Join" in (await alice.get(MIRROR)).text
    [mine] = await pair.a.rows(Follow)
    assert mine.state == FollowState.REJECTED


async def test_leaving_sends_undo_and_ends_the_membership_there(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=False)
    await join(pair, alice)
    await pair.settle()

    response = await post_form(alice, f"{MIRROR}/leave", {}, page=f"{MIRROR}/leave")
    await pair.settle()

    assert response.status_code == 303
    assert await pair.b.count(Follow) == 0 and await pair.a.count(Follow) == 0
    assert await a_membership(pair) is None and await b_membership(pair) is None


async def test_removal_by_the_association_sends_reject(pair: Pair) -> None:
    alice, bob = await setup(pair, moderated=False)
    await join(pair, alice)
    await pair.settle()
    theirs = await b_membership(pair)
    assert theirs is not None

    members = "/associations/restos/members"
    await post_form(bob, f"{members}/{theirs.id}/remove", {}, page=members)
    await pair.settle()

    assert await a_membership(pair) is None and await b_membership(pair) is None
    [row] = await pair.b.rows(Follow)
    assert row.state == FollowState.REJECTED


async def test_unknown_local_and_personal_addresses_are_refused(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=True)

    unknown = await find(alice, "@nobody@b.test")
    local = await find(alice, "@alice@a.test")
    person = await find(alice, "@bob@b.test")
    again = await find(alice, "@restos@b.test")
    twice = await find(alice, "@restos@b.test")

    assert unknown.status_code == 400 and "No association could be found" in unknown.text
    assert local.status_code == 400 and "on this instance" in local.text
    assert person.status_code == 400 and "not an association" in person.text
    assert again.status_code == twice.status_code == 303
    assert await pair.a.count(Association, Association.actor_uri.is_not(None)) == 1


async def test_an_accept_from_another_actor_changes_nothing(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=True)
    await join(pair, alice)
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
    membership = await a_membership(pair)
    assert membership is not None and membership.status == MembershipStatus.PENDING


async def test_a_deleted_actor_loses_its_follows_and_memberships(pair: Pair) -> None:
    alice, _bob = await setup(pair, moderated=False)
    await join(pair, alice)
    await pair.settle()
    keys = await pair.a.keys("alice")
    delete = {"id": f"{ALICE}#delete", "type": "Delete", "actor": ALICE, "object": ALICE}

    response = await post_signed(pair.b, "/inbox", delete, keys)
    await pair.settle()

    assert response.status_code == 202
    assert await pair.b.count(Follow) == 0
    assert await pair.b.count(RemoteActor, RemoteActor.uri == ALICE) == 0
    assert await b_membership(pair) is None
