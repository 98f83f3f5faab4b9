"""Crashes under load, with real processes: the instance's web process and worker are killed (SIGKILL) in the
middle of a flood of inbound activities and of outbound deliveries, then started again. Every activity answered
202 is handled exactly once; every delivery reaches its inbox (a delivery interrupted between its POST and its
commit may reach it twice: receivers drop the repeat by its id)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from federation.delivery import PARALLEL, RECORD_BATCH
from tests.conftest import PASSWORD, log_in, post_form
from tests.e2e.peers import Peers, post
from tests.e2e.servers import Server, free_port, loopback_available

B_ADDRESS, PEERS_ADDRESS = ("127.0.0.3", "127.0.0.4") if loopback_available("127.0.0.3") else ("127.0.0.1", "127.0.0.1")
PEERS = 60
TIMEOUT = 90.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Peers]]:
    """b: bob manages the open association restos; 60 actors of another server, whose inboxes answer slowly."""
    # a killed worker's rows are taken again after 10 s instead of 2 min
    b = Server(B_ADDRESS, tmp_path_factory.mktemp("faults") / "b", settings={"BENEVALIBRE_WORKER_LOCK_SECONDS": "10"})
    peers = Peers(PEERS_ADDRESS, free_port(PEERS_ADDRESS), PEERS, delay=0.4)
    try:
        b.seed(
            ["create-user", "bob@b.test", "--password", PASSWORD, "--name", "Bob"],
            ["create-association", "restos", "--name", "Restos", "--owner", "bob@b.test"],
        )
        peers.start()
        b.start()
        yield b, peers
    finally:
        b.close()
        peers.stop()


def query(server: Server, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(Path(server.environment["BENEVALIBRE_DATA_DIR"]) / "benevalibre.sqlite3") as db:
        return db.execute(sql).fetchall()


async def until(check: object, what: str, server: Server) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not after {TIMEOUT} s\n{server.logs()}")


async def test_a_flood_of_follows_survives_killed_processes(world: tuple[Server, Peers]) -> None:
    b, peers = world
    restos = f"{b.base_url}/associations/restos"
    inbox = f"{b.base_url}/inbox"
    activities = {
        n: {"id": f"{peers.actor_id(n)}/follows/1", "type": "Follow", "actor": peers.actor_id(n), "object": restos}
        for n in range(PEERS)
    }
    acknowledged: set[int] = set()
    killed = asyncio.Event()

    async def send(client: httpx.AsyncClient, numbers: list[int]) -> None:
        for n in numbers:
            body, headers = peers.signed(n, inbox, activities[n])
            status = await post(client, inbox, body, headers)
            if status == 202:
                acknowledged.add(n)
                if len(acknowledged) == PEERS // 3 and not killed.is_set():
                    killed.set()
                    b.kill_web()  # in the middle of the flood
                    b.kill_worker()
            else:
                assert status == 0, status  # refused only because the server was down

    async with httpx.AsyncClient(timeout=10.0) as client:
        numbers = list(range(PEERS))
        await asyncio.gather(*(send(client, numbers[i::8]) for i in range(8)))
        assert killed.is_set() and len(acknowledged) < PEERS
        b.start()
        # the senders retry what was not acknowledged, as servers do
        await send(client, [n for n in range(PEERS) if n not in acknowledged])
        assert acknowledged == set(range(PEERS))

        # the worker is killed again while it handles them
        await asyncio.sleep(1.0)
        b.kill_worker()
        b.start_worker()

    def handled() -> bool:
        return query(b, "SELECT count(*) FROM inbox_items WHERE state = 'RECEIVED'") == [(0,)]

    await until(handled, "every acknowledged Follow handled", b)
    rows = query(b, "SELECT activity_id, state FROM inbox_items")
    assert sorted(r[0] for r in rows) == sorted(str(a["id"]) for a in activities.values())  # each stored once
    assert {r[1] for r in rows} == {"PROCESSED"}
    members = query(
        b, "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.actor_uri IS NOT NULL"
    )
    assert members == [(PEERS,)]  # each Follow handled once: one member per actor

    def accepted() -> bool:
        return len(peers.arrived("Accept")) == PEERS

    await until(accepted, "every follower told it is accepted", b)


async def test_deliveries_survive_a_killed_worker(world: tuple[Server, Peers]) -> None:
    b, peers = world
    before = set(query(b, "SELECT id FROM deliveries"))
    async with httpx.AsyncClient(base_url=b.base_url, headers={"Accept-Language": "en"}, timeout=10.0) as bob:
        await log_in(bob, "bob@b.test")
        page = "/associations/restos"
        response = await post_form(bob, f"{page}/news", {"text": "Collecte samedi"}, page=page)
        assert response.status_code == 303

    def some_arrived() -> bool:
        return len(peers.arrived("Create")) >= PEERS // 4

    await until(some_arrived, "the first notes delivered", b)
    b.kill_worker()  # in the middle of the fan-out (each inbox answers in 400 ms)
    assert len(peers.arrived("Create")) < PEERS
    b.start_worker()

    def all_sent() -> bool:
        rows = query(b, "SELECT state FROM deliveries")
        return len(rows) == len(before) + PEERS and {r[0] for r in rows} == {"SENT"}

    await until(all_sent, "every delivery made", b)
    arrived = peers.arrived("Create")
    assert set(arrived) == set(range(PEERS))  # every follower got the note
    # repeats only for what the killed worker had in flight, or had sent but not yet written
    assert sum(arrived.values()) - PEERS <= PARALLEL + RECORD_BATCH
