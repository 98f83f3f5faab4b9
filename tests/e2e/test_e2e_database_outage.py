"""The database stops under load, with real processes: an instance (``benevalibre serve`` and ``benevalibre worker``)
on a PostgreSQL server of the test's own, which is stopped as in a crash (``pg_ctl stop -m immediate``) in the
middle of a flood of signed Follows, page views and the fan-out of a news note, then started again.

While the database is away, every request answers 503 with ``Retry-After`` (never a 500, never a dropped
connection, never a wait past the client's timeout); senders retry what was not answered 202, as servers do. Once
it is back the instance recovers by itself, without a restart of its processes: pages answer 200 again, the
worker handles every activity answered 202 exactly once and makes every delivery that was pending.

The machine's shared PostgreSQL cluster is never touched: the server here is its own (``PrivatePostgres``), which
needs the PostgreSQL binaries and root; the test is skipped without them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PASSWORD, log_in, post_form
from tests.e2e.peers import Peers
from tests.e2e.servers import PrivatePostgres, Server, free_port, loopback_available, private_postgres_missing

pytestmark = pytest.mark.skipif(bool(private_postgres_missing()), reason=private_postgres_missing() or "runs")

B_ADDRESS, PEERS_ADDRESS = ("127.0.0.5", "127.0.0.6") if loopback_available("127.0.0.5") else ("127.0.0.1", "127.0.0.1")
FOLLOWERS = 24  # actors 0-23 follow before the outage and receive the news note
PEERS = 60  # actors 24-59 follow during the flood
OUTAGE = 4.0  # seconds without the database
REQUEST_TIMEOUT = 10.0
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Peers, PrivatePostgres]]:
    """b on its own PostgreSQL: bob manages the open association restos; 60 actors of a stand-in peer server
    whose inboxes answer in 0.3 s (so that a fan-out is still going on when the database stops)."""
    database = PrivatePostgres()
    b = Server(
        B_ADDRESS,
        tmp_path_factory.mktemp("outage") / "b",
        database_url=database.url(),
        settings={
            "BENEVALIBRE_WORKER_LOCK_SECONDS": "10",  # rows claimed when the database stopped are taken again soon
            "BENEVALIBRE_INBOX_RATE_LIMIT": "100000",  # the senders share one address and retry through the outage
        },
    )
    peers = Peers(PEERS_ADDRESS, free_port(PEERS_ADDRESS), PEERS, delay=0.3)
    try:
        database.init()
        b.seed(
            ["create-user", "bob@b.test", "--password", PASSWORD, "--name", "Bob"],
            ["create-association", "restos", "--name", "Restos", "--owner", "bob@b.test"],
        )
        peers.start()
        b.start()
        yield b, peers, database
    finally:
        b.close()
        peers.stop()
        database.close()


async def query(database: PrivatePostgres, sql: str) -> list[tuple[Any, ...]]:
    connection = await asyncpg.connect(host="127.0.0.1", port=database.port, user="postgres", database="benevalibre")
    try:
        return [tuple(row) for row in await connection.fetch(sql)]
    finally:
        await connection.close()


class Seen:
    """What the clients saw: statuses by kind of request, and whether each 503 carried a ``Retry-After``."""

    def __init__(self) -> None:
        self.statuses: dict[str, Counter[int]] = {"page": Counter(), "inbox": Counter(), "form": Counter()}
        self.bare_503: list[str] = []  # a 503 without Retry-After, or without the short page's text

    def record(self, kind: str, response: httpx.Response | None) -> int:
        status = 0 if response is None else response.status_code  # 0: no answer in time, or a dropped connection
        self.statuses[kind][status] += 1
        if response is not None and status == 503:
            short = "briefly unavailable" in response.text or '"code":"unavailable"' in response.text  # page or JSON
            ok = response.headers.get("retry-after", "").isdecimal() and short
            if not ok:
                self.bare_503.append(f"{kind}: {response.headers} {response.text[:200]}")
        return status


async def attempt(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
    try:
        return await client.request(method, url, **kwargs)
    except httpx.HTTPError:
        return None


async def until(check: Any, what: str, b: Server, database: PrivatePostgres) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not after {TIMEOUT} s\n{b.logs()}\n{database.logs()}")


async def test_the_instance_rides_out_a_database_crash(world: tuple[Server, Peers, PrivatePostgres]) -> None:
    b, peers, database = world
    web_pid, worker_pid = b.web.pid if b.web else 0, b.worker.pid if b.worker else 0
    restos = f"{b.base_url}/associations/restos"
    inbox = f"{b.base_url}/inbox"

    def follow(n: int) -> dict[str, str]:
        return {"id": f"{peers.actor_id(n)}/follows/1", "type": "Follow", "actor": peers.actor_id(n), "object": restos}

    seen = Seen()
    acknowledged: set[int] = set()

    async def send(client: httpx.AsyncClient, n: int, until_acknowledged: asyncio.Event) -> None:
        """A sender: posts the Follow of actor n, and posts it again after a short wait until it is answered 202."""
        while n not in acknowledged and not until_acknowledged.is_set():
            body, headers = peers.signed(n, inbox, follow(n))
            if seen.record("inbox", await attempt(client, "POST", inbox, content=body, headers=headers)) == 202:
                acknowledged.add(n)
            else:
                await asyncio.sleep(0.2)

    never = asyncio.Event()
    async with (
        httpx.AsyncClient(timeout=REQUEST_TIMEOUT, headers={"Accept": "application/activity+json"}) as servers,
        httpx.AsyncClient(base_url=b.base_url, headers={"Accept-Language": "en"}, timeout=REQUEST_TIMEOUT) as bob,
    ):
        await log_in(bob, "bob@b.test")
        # the first followers, before any trouble
        await asyncio.gather(*(send(servers, n, never) for n in range(FOLLOWERS)))

        async def first_accepted() -> bool:
            return len(peers.arrived("Accept")) == FOLLOWERS

        await until(first_accepted, "the first followers accepted", b, database)

        # the flood: bob publishes a note to the 24 followers, 36 more actors follow, bob browses
        page = "/associations/restos"
        published = await post_form(bob, f"{page}/news", {"text": "Collecte samedi"}, page=page)
        assert published.status_code == 303
        crashed, recovered, flood_over = asyncio.Event(), asyncio.Event(), asyncio.Event()
        back_at: list[float] = []  # when the database was started again

        async def browse() -> None:
            paths = ["/dashboard", page, "/entries/new", "/associations/restos/members"]
            turn = 0
            while not flood_over.is_set():
                response = await attempt(bob, "GET", paths[turn % len(paths)])
                seen.record("page", response)
                turn += 1
                await asyncio.sleep(0.05)

        async def post_news() -> None:
            """Bob posts a news note now and then while the database is away: the form answers 503."""
            while not flood_over.is_set():
                if crashed.is_set() and not recovered.is_set():
                    # the form's CSRF token is in the signed session cookie: the POST itself meets the outage
                    data = {"csrf_token": token, "text": "Pendant la panne"}
                    seen.record("form", await attempt(bob, "POST", f"{page}/news", data=data))
                await asyncio.sleep(0.3)

        token_page = (await bob.get(page)).text
        token = token_page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

        async def crash_and_return() -> None:
            async def fan_out_started() -> bool:
                return len(peers.arrived("Create")) >= 4

            await until(fan_out_started, "the fan-out started", b, database)
            await asyncio.to_thread(database.crash)  # while deliveries and follows are under way
            crashed.set()
            await asyncio.sleep(OUTAGE)
            await asyncio.to_thread(database.start)
            back_at.append(time.monotonic())
            recovered.set()

        async def late_followers() -> None:
            numbers = list(range(FOLLOWERS, PEERS))
            await asyncio.gather(*(send_all(servers, numbers[i::4]) for i in range(4)))

        async def send_all(client: httpx.AsyncClient, numbers: list[int]) -> None:
            for n in numbers:
                await send(client, n, flood_over)
                await asyncio.sleep(0.1)  # a steady stream, so that the crash lands in its middle

        chores = [asyncio.create_task(job()) for job in (browse, post_news)]
        await asyncio.gather(crash_and_return(), late_followers())
        flood_over.set()
        await asyncio.gather(*chores)

        # what the clients saw: 503s while the database was away, never a 500 or a dropped connection
        assert acknowledged == set(range(PEERS))
        for kind, statuses in seen.statuses.items():
            assert set(statuses) <= {200, 202, 303, 503}, (kind, statuses, b.logs())
            assert statuses[503] > 0, (kind, statuses)  # the outage was met by every kind of request
        assert not seen.bare_503, seen.bare_503[:3]

        # the instance recovered by itself: the same processes, pages and health back to 200
        assert b.web is not None and b.web.poll() is None and b.web.pid == web_pid
        assert b.worker is not None and b.worker.poll() is None and b.worker.pid == worker_pid
        assert (await bob.get("/dashboard")).status_code == 200

        async def healthy() -> bool:
            response = await attempt(servers, "GET", f"{b.base_url}/healthz")
            return response is not None and response.status_code == 200

        await until(healthy, "/healthz answers 200 again", b, database)

    # every Follow answered 202 is stored once and handled once
    async def all_handled() -> bool:
        return await query(database, "SELECT count(*) FROM inbox_items WHERE state = 'RECEIVED'") == [(0,)]

    await until(all_handled, "every acknowledged Follow handled", b, database)
    rows = await query(database, "SELECT activity_id, state FROM inbox_items")
    assert sorted(row[0] for row in rows) == sorted(follow(n)["id"] for n in range(PEERS))
    assert {row[1] for row in rows} == {"PROCESSED"}
    members = await query(
        database, "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.actor_uri IS NOT NULL"
    )
    assert members == [(PEERS,)]
    # nothing was saved from a form answered 503 (one posted as the database came back may have been saved)
    notes = await query(database, "SELECT text FROM news ORDER BY id")
    assert notes == [("Collecte samedi",)] + [("Pendant la panne",)] * seen.statuses["form"][303]

    # the deliveries pending at the crash are made once it is back: the note reaches every follower, the Accept
    # every late follower; a delivery whose POST was answered but whose outcome could not be written goes again
    async def all_sent() -> bool:
        states = await query(database, "SELECT state, count(*) FROM deliveries GROUP BY state")
        return dict(states) == {"SENT": FOLLOWERS + PEERS}

    await until(all_sent, "every delivery made", b, database)
    assert set(peers.arrived("Create")) == set(range(FOLLOWERS))
    assert set(peers.arrived("Accept")) == set(range(PEERS))
    # a delivery is made twice only when its POST was answered while the database was away (its outcome could
    # not be written; receivers drop the repeat by its id): every one first made after the return came once
    for key, times in peers.received.items():
        if peers.first_arrival[key] > back_at[0]:
            assert times == 1, (key, times)
        else:
            assert times <= 2, (key, times)
