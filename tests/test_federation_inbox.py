"""The inbox's rules: each refusal answers its status and stores nothing; a good activity is stored once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from federation import proofs
from federation.policy import set_domain
from federation.runtime import Federation
from instance.models import ActorKey, Follow, InboxItem, RemoteActor
from instance.ratelimit import RateLimiter
from tests.federation_support import Pair, activity_bytes, post_signed

ALICE = "https://a.test/users/alice"
RESTOS = "https://b.test/associations/restos"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def follow(number: int = 1, actor: str = ALICE, host: str = "a.test") -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"https://{host}/users/alice/activities/{number}",
        "type": "Follow",
        "actor": actor,
        "object": RESTOS,
    }


@pytest.fixture
async def ready(pair: Pair) -> Pair:
    """Given alice (and bob) on a.test, and the open association restos on b.test."""
    await pair.a.user("alice")
    await pair.a.user("bob")
    await pair.b.user("carol")
    await pair.b.association("carol", "restos")
    return pair


async def refused(pair: Pair, status: int, response: Any) -> None:
    assert response.status_code == status, response.text
    assert await pair.b.count(InboxItem) == 0


async def test_a_signed_follow_is_stored_and_answered_202(ready: Pair) -> None:
    response = await post_signed(ready.b, "/associations/restos/inbox", follow(), await ready.a.keys("alice"))

    assert response.status_code == 202
    [item] = await ready.b.rows(InboxItem)
    assert (item.activity_id, item.actor_uri, item.state) == (follow()["id"], ALICE, "received")
    assert item.recipient == "/associations/restos/inbox"


async def test_unsigned_is_401(ready: Pair) -> None:
    await refused(ready, 401, await post_signed(ready.b, "/inbox", follow(), None))


async def test_a_bad_signature_is_401(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    other = await ready.a.keys("bob")
    # signed by bob's key but announcing alice's key id
    forged = type(keys)(keys.rsa_key_id, other.rsa, keys.ed25519_key_id, keys.ed25519)
    await refused(ready, 401, await post_signed(ready.b, "/inbox", follow(), forged))


async def test_a_body_that_does_not_match_the_digest_is_401(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    tampered = activity_bytes({**follow(), "object": "https://b.test/associations/other"})
    await refused(ready, 401, await post_signed(ready.b, "/inbox", follow(), keys, sent_body=tampered))


async def test_an_old_date_is_401(ready: Pair) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    await refused(ready, 401, await post_signed(ready.b, "/inbox", follow(), await ready.a.keys("alice"), now=old))


async def test_the_key_of_another_actor_is_401(ready: Pair) -> None:
    await refused(ready, 401, await post_signed(ready.b, "/inbox", follow(), await ready.a.keys("bob")))


async def test_an_activity_id_on_another_origin_is_403(ready: Pair) -> None:
    activity = follow(host="c.test")
    await refused(ready, 403, await post_signed(ready.b, "/inbox", activity, await ready.a.keys("alice")))


async def test_a_replayed_activity_changes_nothing(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    first = await post_signed(ready.b, "/inbox", follow(), keys)
    await ready.settle()

    second = await post_signed(ready.b, "/inbox", follow(), keys)
    await ready.settle()

    assert first.status_code == second.status_code == 202
    [item] = await ready.b.rows(InboxItem)
    assert item.state == "processed" and item.attempts == 1


async def test_a_blocked_domain_is_403_before_any_key_is_fetched(ready: Pair) -> None:
    async with ready.b.instance.sessions() as db:
        await set_domain(db, "a.test", blocked=True, reason="spam")
        await db.commit()
    keys = await ready.a.keys("alice")
    ready.router.requests.clear()

    response = await post_signed(ready.b, "/inbox", follow(), keys)

    await refused(ready, 403, response)
    assert ready.router.to("a.test") == []


async def test_an_oversized_body_is_413(ready: Pair) -> None:
    big = {**follow(), "content": "x" * (1024 * 1024)}
    await refused(ready, 413, await post_signed(ready.b, "/inbox", big, await ready.a.keys("alice")))


async def test_malformed_requests_are_refused(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    await refused(ready, 415, await post_signed(ready.b, "/inbox", follow(), keys, content_type="text/plain"))
    await refused(ready, 400, await post_signed(ready.b, "/inbox", b"[1, 2]", keys))
    await refused(ready, 400, await post_signed(ready.b, "/inbox", b"{not json", keys))
    await refused(ready, 404, await post_signed(ready.b, "/users/nobody/inbox", follow(), keys))


async def test_too_many_requests_is_429_with_retry_after(ready: Pair) -> None:
    federation: Federation = ready.b.app.state.federation
    federation.inbox_limiter = RateLimiter(2, 60)
    keys = await ready.a.keys("alice")
    for number in (1, 2):
        assert (await post_signed(ready.b, "/inbox", follow(number), keys)).status_code == 202

    response = await post_signed(ready.b, "/inbox", follow(3), keys)

    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    assert await ready.b.count(InboxItem) == 2


async def test_a_valid_proof_is_accepted_and_a_broken_one_is_401(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    signed = proofs.sign(follow(1), keys.ed25519, keys.ed25519_key_id)
    broken = {**proofs.sign(follow(2), keys.ed25519, keys.ed25519_key_id), "object": "https://b.test/x"}

    assert (await post_signed(ready.b, "/inbox", signed, keys)).status_code == 202
    response = await post_signed(ready.b, "/inbox", broken, keys)

    assert response.status_code == 401
    assert await ready.b.count(InboxItem) == 1


async def test_a_rotated_key_is_refetched_once_then_refused(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    assert (await post_signed(ready.b, "/inbox", follow(1), keys)).status_code == 202
    async with ready.a.instance.sessions() as db:  # alice's keys change on a.test
        await db.execute(update(ActorKey).where(ActorKey.rsa_key_id == keys.rsa_key_id).values(owner="old"))
        await db.commit()
    new_keys = await ready.a.keys("alice")
    ready.router.requests.clear()

    rotated = await post_signed(ready.b, "/inbox", follow(2), new_keys)
    stale = await post_signed(ready.b, "/inbox", follow(3), keys)

    assert rotated.status_code == 202
    assert stale.status_code == 401  # the old key no longer verifies, and no second refetch so soon
    assert len(ready.router.to("a.test")) == 1
    [actor] = await ready.b.rows(RemoteActor)
    assert actor.key_refetched_at is not None


async def test_bad_signatures_refetch_the_key_at_most_once(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    assert (await post_signed(ready.b, "/inbox", follow(1), keys)).status_code == 202
    forged = type(keys)(keys.rsa_key_id, (await ready.a.keys("bob")).rsa, keys.ed25519_key_id, keys.ed25519)
    ready.router.requests.clear()

    for number in (2, 3, 4):
        assert (await post_signed(ready.b, "/inbox", follow(number), forged)).status_code == 401

    assert len(ready.router.to("a.test")) == 1
    assert await ready.b.count(InboxItem) == 1


# -- an actor that deletes itself can no longer serve its key -----------------------------------------------


def self_delete(actor: str = ALICE) -> dict[str, Any]:
    return {"id": f"{actor}#delete", "type": "Delete", "actor": actor, "object": actor, "to": [PUBLIC]}


async def test_a_gone_actor_we_knew_is_forgotten_with_its_follows(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    assert (await post_signed(ready.b, "/associations/restos/inbox", follow(), keys)).status_code == 202
    await ready.settle()
    assert await ready.b.count(Follow, Follow.follower_uri == ALICE) == 1
    async with ready.b.instance.sessions() as db:  # the cached actor is old enough to be fetched again
        await db.execute(update(RemoteActor).values(fetched_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
        await db.commit()
    ready.router.down["a.test"] = 410
    ready.router.requests.clear()

    response = await post_signed(ready.b, "/inbox", self_delete(), keys)
    await ready.settle()

    assert response.status_code == 202
    assert ready.router.to("a.test") == []  # verified with the cached key, nothing fetched
    assert await ready.b.count(Follow) == 0
    assert await ready.b.count(RemoteActor) == 0


async def test_a_gone_actor_we_never_knew_gets_a_quick_202_and_nothing_changes(ready: Pair) -> None:
    ready.router.down["a.test"] = 410
    ready.router.requests.clear()

    response = await post_signed(ready.b, "/inbox", self_delete(), await ready.a.keys("alice"))

    assert response.status_code == 202
    assert ready.router.requests == []
    assert await ready.b.count(InboxItem) == 0
    assert await ready.b.count(RemoteActor) == 0


async def test_a_delete_of_a_known_actor_signed_with_another_key_is_401(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    assert (await post_signed(ready.b, "/associations/restos/inbox", follow(), keys)).status_code == 202
    await ready.settle()
    forged = type(keys)(keys.rsa_key_id, (await ready.a.keys("bob")).rsa, keys.ed25519_key_id, keys.ed25519)

    response = await post_signed(ready.b, "/inbox", self_delete(), forged)
    await ready.settle()

    assert response.status_code == 401
    assert await ready.b.count(Follow) == 1
    assert await ready.b.count(RemoteActor, RemoteActor.uri == ALICE) == 1
