"""What keeps the instance going when what it depends on fails (the end-to-end tests with real processes are in
tests/e2e, and docs/reliability.md sums them up): with its database away, requests answer 503 with
``Retry-After`` and the worker waits for it quietly; a server that holds a delivery holds up one delivery round,
not the others, and each inbox still gets its activities in order; an answer that never ends is given up after
the client's total bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from federation import activities
from federation import client as federation_client
from federation.client import FederationClient, FetchError
from federation.delivery import enqueue
from federation.local_keys import instance_owner
from instance.db import create_engine, is_unavailable
from instance.models import Delivery, DeliveryState
from instance.models.federation import user_owner
from instance.runtime import Instance
from instance.settings import Settings
from instance.worker import Worker
from tests.conftest import make_client, make_settings
from tests.federation_support import AP, Pair
from web.app import create_app

ALICE = "https://a.test/users/alice"


def unreachable_database() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nothing"


# -- the database away -------------------------------------------------------------------------------------------


async def test_requests_answer_503_with_retry_after_while_the_database_cannot_be_reached(tmp_path: Path) -> None:
    app = create_app(make_settings(unreachable_database(), tmp_path), check_database=False)
    try:
        async with make_client(app) as client:
            page = await client.get("/", headers={"Accept-Language": "fr"})
            assert page.status_code == 503 and page.headers["retry-after"] == "30"
            assert "Le service est momentanément indisponible" in page.text
            assert page.headers["cache-control"] == "no-store" and "x-request-id" in page.headers

            api = await client.get("/api/v1/me", headers={"Authorization": "Bearer bvl_" + "x" * 43})
            assert api.status_code == 503 and api.json()["error"]["code"] == "unavailable"

            activity = {"id": "https://c.test/follows/1", "type": "Follow", "actor": "https://c.test/u", "object": "x"}
            headers = {"Content-Type": AP, "Accept": AP}
            inbox = await client.post("/inbox", json=activity, headers=headers)
            assert inbox.status_code == 503 and inbox.headers["retry-after"] == "30"  # senders retry, not drop

            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["checks"]["database"] == {"ok": False, "detail": "unreachable: ConnectionRefusedError"}
    finally:
        await app.state.federation.aclose()
        await app.state.instance.close()


async def test_outages_are_told_from_faults(instance: Instance, tmp_path: Path) -> None:
    # a server that refuses connections
    engine = create_engine(Settings(database_url=unreachable_database(), secret_key="x"))
    try:
        with pytest.raises(Exception) as refused:
            async with engine.connect():
                pass
        assert is_unavailable(refused.value)
    finally:
        await engine.dispose()

    # an SQLite file that cannot be written, through the application's engine
    path = tmp_path / "read-only.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true", secret_key="x"))
    try:
        with pytest.raises(Exception) as read_only:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))
        assert is_unavailable(read_only.value)
    finally:
        await engine.dispose()

    # an SQLite file locked by another writer
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError) as locked:
            sqlite3.connect(path, timeout=0).execute("SELECT * FROM t")
        assert is_unavailable(locked.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    # a fault in a query, on the test database, is not an outage
    with pytest.raises(Exception) as fault:
        async with instance.sessions() as db:
            await db.execute(text("SELECT * FROM no_such_table"))
    assert not is_unavailable(fault.value)
    # nor is a connection error of the application's own (not raised by the database driver)
    try:
        raise ConnectionRefusedError(111, "refused by a peer")
    except ConnectionRefusedError as own:
        assert not is_unavailable(own)


class AwayThenBack:
    """A worker task whose database refuses connections for its first ``failures`` rounds."""

    name = "away-then-back"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.rounds = 0
        self.back = asyncio.Event()
        self.engine = create_engine(Settings(database_url=unreachable_database(), secret_key="x"))

    async def run_once(self) -> int:
        self.rounds += 1
        if self.rounds <= self.failures:
            async with self.engine.connect():
                pass
        self.back.set()
        return 0


async def test_the_worker_waits_for_the_database_quietly(caplog: pytest.LogCaptureFixture) -> None:
    task = AwayThenBack(failures=3)
    worker = Worker([task], poll_interval=0.01)
    running = asyncio.create_task(worker.run_forever())
    try:
        with caplog.at_level(logging.INFO, logger="instance.worker"):
            await asyncio.wait_for(task.back.wait(), 10)
            worker.stop()
            await asyncio.wait_for(running, 10)
    finally:
        await task.engine.dispose()
    lines = [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "instance.worker"]
    away = [message for level, message in lines if "the database is unavailable" in message]
    assert len(away) == 1 and all(level != "ERROR" for level, _message in lines), lines  # one line, no tracebacks
    assert any("the database is back after 3 rounds" in message for _level, message in lines), lines


# -- deliveries ---------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def working(worker: Worker) -> AsyncIterator[None]:
    running = asyncio.create_task(worker.run_forever())
    try:
        yield
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def state_of(pair: Pair, inbox: str) -> list[tuple[DeliveryState, int, str]]:
    rows = await pair.a.rows(Delivery, Delivery.inbox == inbox)
    return sorted((row.state, row.attempts, row.last_error) for row in rows)


async def queue(pair: Pair, number: int, inbox: str) -> None:
    async with pair.a.instance.sessions() as db:
        activity = activities.follow(ALICE, f"https://b.test/associations/restos{number}")
        activity["id"] = f"{ALICE}/follows/{number}"
        await enqueue(db, activity, user_owner(1), [inbox])
        await db.commit()


async def test_a_server_that_holds_a_delivery_holds_up_only_its_own_round(pair: Pair) -> None:
    await pair.a.user("alice")
    await pair.b.user("carol")
    await pair.b.association("carol", "restos1")
    pair.router.slow["c.test"] = 30.0  # takes every delivery for longer than the test lasts
    await queue(pair, 1, "https://c.test/inbox")
    async with working(Worker(pair.a.instance.tasks, poll_interval=0.05)):
        for _wait in range(100):
            if pair.router.to("c.test"):
                break
            await asyncio.sleep(0.05)
        assert len(pair.router.to("c.test")) == 1  # the delivery to c.test is under way, and stays so
        # meanwhile a second activity for c.test, and one for b.test
        await queue(pair, 2, "https://c.test/inbox")
        await queue(pair, 1, "https://b.test/inbox")
        for _wait in range(200):
            if (await state_of(pair, "https://b.test/inbox"))[0][0] == DeliveryState.SENT:
                break
            await asyncio.sleep(0.05)
        # b.test got its own at once, from another round
        assert [state for state, _attempts, _error in await state_of(pair, "https://b.test/inbox")] == ["sent"]
        # c.test's second activity waits for the first: no round sends to an inbox another round is sending to
        assert len(pair.router.to("c.test")) == 1
        assert await state_of(pair, "https://c.test/inbox") == [("pending", 0, ""), ("pending", 1, "")]


class EndlessBody(httpx.AsyncByteStream):
    """A body that sends a byte now and then and never ends."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield b" "
            await asyncio.sleep(0.1)


class Dripping(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": AP}, stream=EndlessBody(), request=request)


async def test_an_answer_that_never_ends_is_given_up_after_the_total_bound(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(federation_client, "TOTAL_SECONDS", 1.0)  # 30 s in production
    settings = dataclasses.replace(pair.a.instance.settings, dev_mode=True)
    client = FederationClient(settings, pair.a.instance.sessions, Dripping())
    try:
        with pytest.raises(FetchError, match=r"https://d\.test/actor: no complete answer within 1 s"):
            await client.fetch("https://d.test/actor")
        keys = await client.signing_keys(instance_owner(settings))
        with pytest.raises(TimeoutError, match=r"https://d\.test/inbox: no complete answer within 1 s"):
            await client.post("https://d.test/inbox", b"{}", keys)
    finally:
        await client.aclose()
