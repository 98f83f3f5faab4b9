"""What the inbox keeps in memory (domain policy, verified keys) never outlives a change, and activities posted
at the same time are each stored once before their 202."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from federation.keys import public_pem
from federation.runtime import Federation
from instance.models import FederatedDomain, InboxItem, RemoteActor
from instance.services import instance_settings
from tests.conftest import create_user
from tests.federation_support import Pair, post_signed

pytest_plugins = ["tests.federation_fixtures"]

ALICE = "https://a.test/users/alice"
RESTOS = "https://b.test/associations/restos"


def follow(number: int) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{ALICE}/activities/{number}",
        "type": "Follow",
        "actor": ALICE,
        "object": RESTOS,
    }


@pytest.fixture
async def ready(pair: Pair) -> Pair:
    await pair.a.user("alice")
    await pair.a.user("bob")
    await pair.b.user("carol")
    await pair.b.association("carol", "restos")
    return pair


def federation_of(pair: Pair) -> Federation:
    federation: Federation = pair.b.app.state.federation
    return federation


async def test_the_allow_list_setting_applies_to_the_next_activity(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    assert (await post_signed(ready.b, "/inbox", follow(1), keys)).status_code == 202
    admin = await create_user(ready.b.instance, "root@b.test", "root", admin=True)
    async with ready.b.instance.sessions() as db:
        await instance_settings.save(db, admin, {"federation_allowlist_only": "True"})
        await db.commit()

    refused = await post_signed(ready.b, "/inbox", follow(2), keys)

    assert refused.status_code == 403 and "allow-list" in refused.text
    assert await ready.b.count(InboxItem) == 1


async def test_a_block_written_by_another_process_applies_within_the_cache_time(ready: Pair) -> None:
    federation_of(ready).client.policy.seconds = 0.2
    keys = await ready.a.keys("alice")
    assert (await post_signed(ready.b, "/inbox", follow(1), keys)).status_code == 202
    async with ready.b.instance.sessions() as db:  # a plain UPDATE, as the worker or a command would write it
        db.add(FederatedDomain(domain="a.test"))
        await db.commit()
    async with ready.b.instance.sessions() as db:
        await db.execute(update(FederatedDomain).values(blocked=True, reason="spam"))
        await db.commit()
    await asyncio.sleep(0.3)

    refused = await post_signed(ready.b, "/inbox", follow(2), keys)

    assert refused.status_code == 403 and "spam" in refused.text
    assert await ready.b.count(InboxItem) == 1


async def test_a_key_replaced_in_the_database_is_used_without_a_refetch(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    assert (await post_signed(ready.b, "/inbox", follow(1), keys)).status_code == 202
    bob = await ready.a.keys("bob")
    # another process refetched alice's document and stored a new key under the same key id
    new_pem = public_pem(bob.rsa.public_key())
    async with ready.b.instance.sessions() as db:
        await db.execute(update(RemoteActor).where(RemoteActor.uri == ALICE).values(public_key_pem=new_pem))
        await db.commit()
    signed_with_new = type(keys)(keys.rsa_key_id, bob.rsa, keys.ed25519_key_id, keys.ed25519)
    ready.router.requests.clear()

    answer = await post_signed(ready.b, "/inbox", follow(2), signed_with_new)

    assert answer.status_code == 202
    assert ready.router.to("a.test") == []  # verified with the stored key, nothing fetched
    assert await ready.b.count(InboxItem) == 2


async def test_activities_posted_at_once_are_each_stored_once(ready: Pair) -> None:
    keys = await ready.a.keys("alice")
    numbers = [*range(12), 3, 5, 5]

    answers = await asyncio.gather(
        *(post_signed(ready.b, "/associations/restos/inbox", follow(n), keys) for n in numbers)
    )

    assert [answer.status_code for answer in answers] == [202] * len(numbers)
    items = await ready.b.rows(InboxItem)
    assert sorted(item.activity_id for item in items) == sorted(follow(n)["id"] for n in range(12))
    assert {item.recipient for item in items} == {"/associations/restos/inbox"}
    assert all(item.state == "received" and item.received_at > dt.datetime(2020, 1, 1, tzinfo=dt.UTC) for item in items)
