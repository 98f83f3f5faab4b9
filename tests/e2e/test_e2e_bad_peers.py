"""Peers that misbehave, with real processes: an instance (``benevalibre serve`` and ``benevalibre worker``) deals
with a server (``BadPeer``) that answers slowly past the client's timeouts, never answers, answers garbage, an HTML
page, a body over the size cap, JSON cut in the middle or a redirect loop, and with a port that refuses
connections.

A volunteer looking up an association there gets an error on the form; an activity whose key lives there is
refused with 401 and nothing is kept; deliveries there end retried or failed with a clear last error. Meanwhile
the pages answer and the worker goes on with the rest of its work: a delivery to a good peer is made while a bad
one holds its connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, log_in
from tests.e2e.peers import BadPeer, Peers
from tests.e2e.servers import Server, free_port, loopback_available

if loopback_available("127.0.0.7"):
    B_ADDRESS, BAD_ADDRESS, GOOD_ADDRESS = "127.0.0.7", "127.0.0.8", "127.0.0.9"
else:
    B_ADDRESS = BAD_ADDRESS = GOOD_ADDRESS = "127.0.0.1"
CLIENT_TIMEOUT = 60.0  # past the instance's own total bound on an outbound request (30 s)
TIMEOUT = 60.0
WHY = {  # what a fetch from each bad peer fails with, as the volunteer and the sender are told
    "slow": "no complete answer within 30 s",
    "silent": "ReadTimeout",
    "garbage": "RemoteProtocolError",
    "html": "not an ActivityPub document (text/html)",
    "huge": "the body is larger than 1048576 bytes",
    "invalid": "the body is not JSON",
    "loop": "more than 3 redirects",
    "refused": "ConnectError",
}
FETCH_KINDS = tuple(WHY)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, BadPeer, Peers]]:
    """b: alice, a volunteer, and bob, manager of the open association restos; a bad peer; a good one."""
    b = Server(B_ADDRESS, tmp_path_factory.mktemp("bad-peers") / "b")
    bad = BadPeer(BAD_ADDRESS, free_port(BAD_ADDRESS), refused_port=free_port(BAD_ADDRESS))
    good = Peers(GOOD_ADDRESS, free_port(GOOD_ADDRESS), 2)
    try:
        b.seed(
            ["create-user", "alice@b.test", "--password", PASSWORD, "--name", "Alice"],
            ["create-user", "bob@b.test", "--password", PASSWORD, "--name", "Bob"],
            ["create-association", "restos", "--name", "Restos", "--owner", "bob@b.test"],
        )
        bad.start()
        good.start()
        b.start()
        yield b, bad, good
    finally:
        b.close()
        bad.stop()
        good.stop()


def query(server: Server, sql: str, *parameters: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(Path(server.environment["BENEVALIBRE_DATA_DIR"]) / "benevalibre.sqlite3") as db:
        return db.execute(sql, parameters).fetchall()


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, server: Server) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: not after {TIMEOUT} s\n{server.logs()}")


def browser(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, headers={"Accept-Language": "en"}, timeout=CLIENT_TIMEOUT)


async def pages_answer(client: httpx.AsyncClient) -> None:
    """The pages a volunteer uses answer (while a bad peer holds a request of the instance)."""
    for path in ("/dashboard", "/entries/new", "/associations/restos"):
        assert (await client.get(path)).status_code == 200, path


async def test_lookups_and_keys_on_bad_peers_fail_cleanly(world: tuple[Server, BadPeer, Peers]) -> None:
    b, bad, _good = world
    refused_host = f"{bad.address}:{bad.refused_port}"
    inbox = f"{b.base_url}/inbox"
    restos = f"{b.base_url}/associations/restos"
    async with browser(b) as alice, httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as servers:
        await log_in(alice, "alice@b.test")
        page = (await alice.get("/follows")).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match is not None
        token = match.group(1)

        async def look_up(kind: str) -> httpx.Response:
            """Alice looks up an association by its handle on the bad peer (or on the refusing port)."""
            handle = f"@x@{refused_host}" if kind == "refused" else f"@{kind}@{bad.host}"
            return await alice.post("/follows", data={"csrf_token": token, "target": handle})

        async def deliver_activity(kind: str) -> httpx.Response:
            """A Follow signed with a key that lives on the bad peer (or behind the refusing port)."""
            actor = f"http://{refused_host}/actor" if kind == "refused" else bad.bad_actor(kind)
            activity = {"id": f"{actor}/follows/1", "type": "Follow", "actor": actor, "object": restos}
            body, headers = bad.signed(actor, inbox, activity)
            return await servers.post(inbox, content=body, headers=headers)

        lookups = [asyncio.create_task(look_up(kind)) for kind in FETCH_KINDS]
        deliveries = [asyncio.create_task(deliver_activity(kind)) for kind in FETCH_KINDS]

        # while the slow and the silent peer hold the instance's requests, the pages answer
        await until(lambda: bad.holding["slow"] >= 2 and bad.holding["silent"] >= 1, "the bad peer holds", b)
        await pages_answer(alice)
        assert bad.holding["slow"] >= 1  # still held: the pages did not wait for it

        looked_up = dict(zip(FETCH_KINDS, await asyncio.gather(*lookups), strict=True))
        refused = dict(zip(FETCH_KINDS, await asyncio.gather(*deliveries), strict=True))

    # the volunteer sees why on the form, never a server error
    for kind, response in looked_up.items():
        assert response.status_code == 400, (kind, response.status_code, b.logs())
        shown = re.findall(r"No association could be found at this address \(([^<]*)\)", response.text)
        assert shown and WHY[kind] in html.unescape(shown[0]), (kind, shown)
    # the inbox refuses each activity with 401: its key cannot be fetched
    for kind, response in refused.items():
        assert response.status_code == 401, (kind, response.status_code, response.text, b.logs())
        reason = response.json()["error"]
        assert reason.startswith("the key cannot be fetched") and WHY[kind] in reason, (kind, reason)
    # and nothing of theirs is kept: no mirrored association, no cached actor, no stored activity
    bad_ones, refused_one = f"{bad.base_url}/bad/%", f"http://{refused_host}/%"
    for table, column in (("associations", "actor_uri"), ("remote_actors", "uri"), ("inbox_items", "actor_uri")):
        sql = f"SELECT count(*) FROM {table} WHERE {column} LIKE ? OR {column} LIKE ?"  # noqa: S608 (our names)
        assert query(b, sql, bad_ones, refused_one) == [(0,)], table
    # no retry storm: a redirect loop is followed three times (four requests) by each of the two requests
    assert bad.requests[("GET", "loop")] == 8, bad.requests
    assert all(times <= 2 for (_method, kind), times in bad.requests.items() if kind != "loop"), bad.requests


DELIVERY_KINDS = ("slow", "silent", "garbage", "huge", "loop", "gone", "refused")
EXPECTED = {  # what becomes of the Accept sent to each bad inbox: (state, words of its last error)
    "slow": ("PENDING", "no complete answer"),
    "silent": ("PENDING", "ReadTimeout"),
    "garbage": ("PENDING", "RemoteProtocolError"),
    "huge": ("SENT", ""),  # a 200 whose body is past the cap: only its start is read
    "loop": ("PENDING", "HTTP 302"),
    "gone": ("FAILED", "HTTP 410"),
    "refused": ("PENDING", "ConnectError"),
}


async def test_deliveries_to_bad_peers_hold_up_only_themselves(world: tuple[Server, BadPeer, Peers]) -> None:
    b, bad, good = world
    inbox = f"{b.base_url}/inbox"
    restos = f"{b.base_url}/associations/restos"

    def follow(actor: str) -> dict[str, str]:
        return {"id": f"{actor}/follows/restos", "type": "Follow", "actor": actor, "object": restos}

    async with browser(b) as bob, httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as servers:
        await log_in(bob, "bob@b.test")
        # actors with good documents and bad inboxes follow restos: the worker sends each an Accept
        for kind in DELIVERY_KINDS:
            actor = bad.good_actor(kind)
            body, headers = bad.signed(actor, inbox, follow(actor))
            assert (await servers.post(inbox, content=body, headers=headers)).status_code == 202, kind
        await until(lambda: bad.holding["slow"] >= 1 and bad.holding["silent"] >= 1, "Accepts held by bad inboxes", b)

        # while those deliveries hang, an actor of a good peer follows: the worker handles its Follow, and its
        # Accept reaches it while the Accept to the slow inbox is still under way
        actor = good.actor_id(0)
        body, headers = good.signed(0, inbox, follow(actor))
        assert (await servers.post(inbox, content=body, headers=headers)).status_code == 202
        await until(lambda: 0 in good.arrived("Accept"), "the good peer's Accept", b)
        slow = query(
            b, "SELECT attempts, last_error FROM deliveries WHERE inbox = ?", f"{bad.good_actor('slow')}/inbox"
        )
        assert slow == [(1, "")], ("the good delivery waited for the slow one", slow)
        await pages_answer(bob)

    # once the bad peers let go (the slow one after the 30 s bound), each delivery ends as it should
    def settled() -> bool:
        rows = query(b, "SELECT count(*) FROM deliveries WHERE attempts = 0 OR locked_until IS NOT NULL")
        return bad.holding.total() == 0 and rows == [(0,)]

    await until(settled, "every first attempt over", b)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    states = {}
    for inbox_url, state, attempts, last_error, next_attempt in query(
        b, "SELECT inbox, state, attempts, last_error, next_attempt_at FROM deliveries"
    ):
        if inbox_url.startswith(good.base_url):
            assert state == "SENT", (inbox_url, state, last_error)
            continue
        kind = (
            "refused" if inbox_url.startswith(f"http://{bad.address}:{bad.refused_port}/") else inbox_url.split("/")[-2]
        )
        later = dt.datetime.fromisoformat(str(next_attempt)).replace(tzinfo=None) > now
        states[kind] = (state, attempts, last_error, later)
    assert set(states) == set(EXPECTED), states
    for kind, (state, words) in EXPECTED.items():
        got_state, attempts, last_error, later = states[kind]
        assert got_state == state and attempts >= 1, (kind, states[kind])
        assert words in last_error, (kind, last_error)
        if state == "PENDING":
            assert later, (kind, "a retry is planned for later", states[kind])
