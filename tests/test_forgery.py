"""Impersonation attempts drawn from ActivityPub servers' published advisories, each refused.

alice (a.test) is a member of restos (b.test, managed by bob) and logged a time entry that waits for bob's
decision. mallory (a.test) and carol (b.test) try to act for others. Each attempt is either refused by the inbox
(its status) or stored and then handled as ``ignored`` by the worker; in both cases nothing else changes on
either instance (every table's row count, and the content of the tables that matter).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from federation.local_keys import SigningKeys
from instance.models import Follow, InboxItem, TimeEntry
from tests.federation_entries_support import ALICE, RESTOS, Members, members
from tests.federation_support import Pair, Side, post_signed
from tests.security_support import contents, table_counts

MALLORY = "https://a.test/users/mallory"
CAROL = "https://b.test/users/carol"
EVIL = "https://evil.test"


def evil_app() -> Starlette:
    """evil.test: its ``mallory`` redirects to alice's actor on a.test; its ``alice`` claims to be a.test's."""

    async def redirect(request: Request) -> Response:
        return RedirectResponse(ALICE, status_code=302)

    async def lookalike(request: Request) -> Response:
        document = {"id": ALICE, "type": "Person", "inbox": f"{EVIL}/inbox"}
        return JSONResponse(document, media_type="application/activity+json")

    return Starlette(routes=[Route("/users/mallory", redirect), Route("/users/alice", lookalike)])


@dataclass
class World:
    pair: Pair
    members: Members
    mallory: SigningKeys
    carol: SigningKeys
    alice: SigningKeys
    entry_id: str  # alice's entry as b.test knows it (its id on a.test)
    entry: dict[str, Any]  # the entry object b.test received
    follow_id: str  # alice's Follow of restos

    def activity(self, number: int, kind: str, actor: str, target: Any, **extra: Any) -> dict[str, Any]:
        host = actor.split("/")[2]
        return {"id": f"https://{host}/forged/{number}", "type": kind, "actor": actor, "object": target, **extra}


@pytest.fixture
async def world(pair: Pair) -> World:
    crew = await members(pair)
    await pair.a.user("mallory")
    await pair.b.user("carol")
    assert (await crew.log()).status_code == 303
    await pair.settle()
    [entry] = await pair.b.rows(TimeEntry)
    [follow] = await pair.a.rows(Follow)
    pair.router.add("evil.test", evil_app(), "192.0.2.66")
    assert entry.ap_id is not None
    assert entry.ap_object is not None
    return World(
        pair,
        crew,
        await pair.a.keys("mallory"),
        await pair.b.keys("carol"),
        await pair.a.keys("alice"),
        entry.ap_id,
        entry.ap_object,
        follow.activity_id,
    )


def with_key_id(keys: SigningKeys, key_id: str) -> SigningKeys:
    """``keys`` announcing another key id (the signature is made with ``keys``' own private key)."""
    return type(keys)(key_id, keys.rsa, keys.ed25519_key_id, keys.ed25519)


Attempt = Callable[[World], Awaitable[tuple[Side, dict[str, Any], SigningKeys]]]


async def _state(pair: Pair) -> tuple[Any, ...]:
    found = []
    for side in (pair.a, pair.b):
        counts = await table_counts(side.instance)
        counts.pop("inbox_items")
        counts.pop("federated_domains")  # noted on their own by the worker as actors get known
        counts.pop("remote_actors")  # an attempt may make an honest actor known (its key is fetched)
        found.extend([counts, await contents(side.instance)])
    return tuple(found)


# Each attempt: (name, advisory it comes from, the request, the expected answer: a status, or "ignored").
ATTEMPTS: list[tuple[str, str, Attempt, int | str]] = []


def attempt(name: str, advisory: str, expected: int | str) -> Callable[[Attempt], Attempt]:
    def register(build: Attempt) -> Attempt:
        ATTEMPTS.append((name, advisory, build, expected))
        return build

    return register


@attempt("activity id on another host", "Mastodon CVE-2024-23832 (GHSA-3fjr-858r-92rw), origin validation", 403)
async def _other_host_id(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    activity = w.activity(1, "Update", MALLORY, w.entry)
    activity["id"] = "https://b.test/associations/restos/forged/1"
    return w.pair.b, activity, w.mallory


@attempt("the key of another actor", "Misskey #2546, keyId of an unrelated host accepted", 401)
async def _key_of_another(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    return w.pair.b, w.activity(2, "Delete", ALICE, w.entry_id), w.mallory


@attempt("Update of someone else's time entry", "Mastodon CVE-2024-23832, object not owned by the actor", "ignored")
async def _update_entry(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    changed = {**copy.deepcopy(w.entry), "name": "Forged", "updated": "2099-01-01T00:00:00+00:00"}
    return w.pair.b, w.activity(3, "Update", MALLORY, changed, audience=RESTOS), w.mallory


@attempt("Delete of someone else's time entry", "Mastodon CVE-2024-23832, object not owned by the actor", "ignored")
async def _delete_entry(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    return w.pair.b, w.activity(4, "Delete", MALLORY, w.entry_id), w.mallory


@attempt("Delete of another actor", "Mastodon CVE-2024-23832, Delete of an actor by another", "ignored")
async def _delete_actor(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    tombstone = {"id": ALICE, "type": "Tombstone"}
    return w.pair.b, w.activity(5, "Delete", MALLORY, tombstone), w.mallory


@attempt("Update of another actor", "Misskey #2528, actor document of another host", "ignored")
async def _update_actor(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    person = {"id": ALICE, "type": "Person", "name": "Forged", "inbox": "https://a.test/users/mallory/inbox"}
    return w.pair.b, w.activity(6, "Update", MALLORY, person), w.mallory


@attempt("Reject of a Follow by someone else than the followed", "Mastodon CVE-2024-23832", "ignored")
async def _reject_follow(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    follow = {"id": w.follow_id, "type": "Follow", "actor": ALICE, "object": RESTOS}
    return w.pair.a, w.activity(7, "Reject", CAROL, follow), w.carol


@attempt("Accept of a time entry by someone else than its association", "Mastodon CVE-2024-23832", "ignored")
async def _accept_entry(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    [entry] = await w.pair.a.rows(TimeEntry)
    return w.pair.a, w.activity(8, "Accept", CAROL, w.entry, published=entry.updated_at.isoformat()), w.carol


@attempt("embedded entry claiming another author", "Mastodon CVE-2022-24307, forged embedded object", "ignored")
async def _embedded_author(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    claimed = {**copy.deepcopy(w.entry), "id": "https://a.test/entries/999"}
    return w.pair.b, w.activity(9, "Create", MALLORY, claimed, audience=RESTOS), w.mallory


@attempt("a note of an association sent by someone else", "Misskey #4756, note of another host", 401)
async def _note_as_association(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    note = {"id": f"{RESTOS}/news/9", "type": "Note", "attributedTo": RESTOS, "content": "Forged"}
    activity = w.activity(10, "Create", RESTOS, note)
    return w.pair.a, activity, w.carol


@attempt("key id redirecting to another origin", "Mastodon CVE-2024-23832, documents fetched after a redirect", 401)
async def _redirected_key(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    keys = with_key_id(w.alice, f"{EVIL}/users/mallory#main-key")
    return w.pair.b, w.activity(11, "Delete", ALICE, w.entry_id), keys


@attempt("actor document claiming another host's id", "Misskey #2528, fetched Person's host not checked", 401)
async def _lookalike_actor(w: World) -> tuple[Side, dict[str, Any], SigningKeys]:
    keys = with_key_id(w.alice, f"{EVIL}/users/alice#main-key")
    return w.pair.b, w.activity(12, "Delete", ALICE, w.entry_id), keys


# a host spelled to look like a.test (Mastodon CVE-2023-42451, GHSA-v3xf-c9qf-j667, domain name normalization)
LOOKALIKES = [
    "https://a.test./users/alice",
    "https://A.TEST/users/alice",
    "https://a.test:443/users/alice",
    "https://a.test:8443/users/alice",
    "https://a.test@evil.test/users/alice",
    "https://evil.test#@a.test/users/alice",
    "https://xn--a-test-7ve/users/alice",
    "https://\u0430.test/users/alice",  # a Cyrillic a
    "https://a.tes/t/users/alice",
    "http://a.test/users/alice",
]
for _number, _spelled in enumerate(LOOKALIKES, start=20):

    async def _lookalike(w: World, spelled: str = _spelled, number: int = _number) -> Any:
        activity = w.activity(number, "Delete", spelled, w.entry_id)
        activity["id"] = f"https://a.test/forged/{number}"
        return w.pair.b, activity, w.alice

    ATTEMPTS.append((f"actor spelled {_spelled}", "Mastodon CVE-2023-42451 (GHSA-v3xf-c9qf-j667)", _lookalike, 401))


@pytest.mark.parametrize(("name", "advisory", "build", "expected"), ATTEMPTS, ids=[a[0] for a in ATTEMPTS])
async def test_an_impersonation_is_refused(
    world: World, name: str, advisory: str, build: Attempt, expected: int | str
) -> None:
    before = await _state(world.pair)
    side, activity, keys = await build(world)

    response = await post_signed(side, "/inbox", activity, keys)

    if expected == "ignored":
        assert response.status_code == 202, response.text
        await world.pair.settle()
        [item] = await side.rows(InboxItem, InboxItem.activity_id == activity["id"])
        assert item.state == "ignored", item.last_error
    else:
        assert response.status_code in (expected, 403 if expected == 401 else expected), response.text
        assert not await side.rows(InboxItem, InboxItem.activity_id == activity["id"])
    assert await _state(world.pair) == before


async def test_a_replayed_delivery_changes_nothing(world: World) -> None:
    """A signed request recorded on the way and sent again (Mastodon CVE-2024-23832 notes replays): the
    activity id is known, so it answers 202 and stores nothing new."""
    [sent] = [r for r in world.pair.router.to("b.test") if r.method == "POST" and r.url.path.endswith("inbox")][:1]
    before = await _state(world.pair)
    items = await world.pair.b.count(InboxItem)

    async with world.pair.b.browser() as http:
        response = await http.post(sent.url.path, content=sent.content, headers=dict(sent.headers))
    await world.pair.settle()

    assert response.status_code == 202
    assert await world.pair.b.count(InboxItem) == items
    assert await _state(world.pair) == before
