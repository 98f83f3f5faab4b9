"""Time across two real instances: alice (a) joins the moderated association restos (b), logs time, bob approves
it; b is stopped while alice edits it, the edit reaches b once it is back, bob approves again; alice withdraws it.
At the end both databases hold the same entry, with the same status and duration."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, log_in, post_form
from tests.e2e.servers import Server, loopback_available

A_ADDRESS, B_ADDRESS = ("127.0.0.2", "127.0.0.3") if loopback_available("127.0.0.2") else ("127.0.0.1", "127.0.0.1")
TIMEOUT = 60.0  # a delivery to a stopped instance is retried after 16 to 36 s


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    folder = tmp_path_factory.mktemp("e2e-entries")
    a, b = Server(A_ADDRESS, folder / "a"), Server(B_ADDRESS, folder / "b")
    try:
        a.seed(["create-user", "alice@a.test", "--password", PASSWORD, "--name", "Alice"])
        b.seed(
            ["create-user", "bob@b.test", "--password", PASSWORD, "--name", "Bob"],
            [
                "create-association",
                "restos",
                "--name",
                "Restos",
                "--owner",
                "bob@b.test",
                "--moderate-membership",
                "--moderate-entries",
            ],
        )
        a.start()
        b.start()
        yield a, b
    finally:
        a.close()
        b.close()


def browser(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, headers={"Accept-Language": "en"}, timeout=10.0)


def entries_of(server: Server) -> list[tuple[str, int, str]]:
    """(status, minutes, title) of every entry in the instance's database."""
    with sqlite3.connect(Path(server.environment["BENEVALIBRE_DATA_DIR"]) / "benevalibre.sqlite3") as db:
        rows = db.execute("SELECT status, duration_minutes, title FROM time_entries ORDER BY id").fetchall()
    return [(str(status).lower(), int(minutes), str(title)) for status, minutes, title in rows]


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str, servers: tuple[Server, ...]) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if await result if not isinstance(result, bool) else result:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not after {TIMEOUT} s\n" + "\n".join(s.logs() for s in servers))


async def test_an_entry_goes_through_approval_an_outage_and_withdrawal(servers: tuple[Server, Server]) -> None:
    a, b = servers
    async with browser(a) as alice, browser(b) as bob:
        await log_in(alice, "alice@a.test")
        await log_in(bob, "bob@b.test")
        found = await post_form(alice, "/follows", {"target": f"@restos@{b.host}"}, page="/follows")
        restos = str(found.headers["location"])
        handle = restos.rsplit("/", 1)[-1]
        await post_form(alice, f"{restos}/join", {}, page=restos)

        async def approve_button(page: str, kind: str) -> str | None:
            match = re.search(kind, (await bob.get(page)).text)
            return match.group(1) if match else None

        members = "/associations/restos/members"
        await eventually(
            lambda: approve_button(members, r'action="(/associations/restos/members/\d+/approve)"'),
            "the request reaches restos",
            servers,
        )
        approve = await approve_button(members, r'action="(/associations/restos/members/\d+/approve)"')
        assert approve is not None
        await post_form(bob, approve, {}, page=members)

        async def member() -> bool:
            return "Leave the association" in (await alice.get(restos)).text

        await eventually(member, "alice becomes a member", servers)

        form = (await alice.get(f"/entries/new?association={handle}")).text
        category = re.search(r'<option value="(\d+)"[^>]*>', form.split('name="category"', 1)[1])
        assert category is not None
        today = dt.date.today().isoformat()
        values = {
            "association": handle,
            "start_date": today,
            "duration": "120",
            "title": "Tri des dons",
            "category": category.group(1),
        }
        assert (await post_form(alice, "/entries/new", values, page="/entries/new")).status_code == 303

        queue = "/associations/restos/moderation"
        await eventually(
            lambda: approve_button(queue, r'name="approve_only" value="(\d+)"'), "the entry reaches restos", servers
        )

        async def decide(key: str) -> None:
            entry_id = await approve_button(queue + "?status=", rf'name="{key}" value="(\d+)"')
            assert entry_id is not None
            data = {key: entry_id, "reason": "-"}
            await post_form(bob, f"{queue}/decide", data, page=queue)

        await decide("approve_only")
        await eventually(
            lambda: entries_of(a) == [("approved", 120, "Tri des dons")], "alice sees it approved", servers
        )

        # restos' instance goes down; alice edits the entry meanwhile
        b.stop()
        [entry_id] = re.findall(r"/entries/(\d+)/edit", (await alice.get("/entries")).text)[:1]
        edit = f"/entries/{entry_id}/edit"
        values.update({"duration": "other", "hours": "3", "minutes": "0"})
        assert (await post_form(alice, edit, values, page=edit)).status_code == 303
        await asyncio.sleep(2)
        assert entries_of(a) == [("pending", 180, "Tri des dons")]
        b.start()  # bob's session is a signed cookie: it outlives the restart
        await eventually(
            lambda: entries_of(b) == [("pending", 180, "Tri des dons")], "the edit reaches restos", servers
        )
        await decide("approve_only")
        await eventually(lambda: entries_of(a) == [("approved", 180, "Tri des dons")], "approved again", servers)

        # alice withdraws it
        await post_form(alice, f"/entries/{entry_id}/withdraw", {}, page="/entries")
        await eventually(lambda: entries_of(b) == [("withdrawn", 180, "Tri des dons")], "restos withdraws it", servers)
        assert entries_of(a) == entries_of(b) == [("withdrawn", 180, "Tri des dons")]
