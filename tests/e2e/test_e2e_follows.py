"""Two real instances, each a web process and a worker process on its own loopback address, find each other by
WebFinger and go through a follow of an open association (accepted at once), a follow of a moderated one
(refused by its manager) and an Undo, with people using the pages as in a browser.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from tests.conftest import PASSWORD, log_in, post_form
from tests.e2e.servers import Server, loopback_available

A_ADDRESS, B_ADDRESS = ("127.0.0.2", "127.0.0.3") if loopback_available("127.0.0.2") else ("127.0.0.1", "127.0.0.1")
TIMEOUT = 20.0


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """a: alice; b: bob, manager of the open association restos and the moderated association club."""
    folder = tmp_path_factory.mktemp("e2e")
    a, b = Server(A_ADDRESS, folder / "a"), Server(B_ADDRESS, folder / "b")
    try:
        a.seed(["create-user", "alice@a.test", "--password", PASSWORD, "--name", "Alice"])
        b.seed(
            ["create-user", "bob@b.test", "--password", PASSWORD, "--name", "Bob"],
            ["create-association", "restos", "--name", "Restos", "--owner", "bob@b.test"],
            ["create-association", "club", "--name", "Club", "--owner", "bob@b.test", "--moderate-membership"],
        )
        a.start()
        b.start()
        yield a, b
    finally:
        a.close()
        b.close()


def browser(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, headers={"Accept-Language": "en"}, timeout=10.0)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, servers: tuple[Server, ...]) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: not after {TIMEOUT} s\n" + "\n".join(s.logs() for s in servers))


async def test_join_accept_refuse_and_leave_between_two_server_processes(servers: tuple[Server, Server]) -> None:
    a, b = servers
    alice_handle = f"alice@{a.address}"
    async with browser(a) as alice, browser(b) as bob:
        await log_in(alice, "alice@a.test")
        await log_in(bob, "bob@b.test")

        async def find(handle: str) -> str:
            found = await post_form(alice, "/follows", {"target": f"@{handle}@{b.host}"}, page="/follows")
            assert found.status_code == 303, found.text
            return str(found.headers["location"])

        async def membership(page: str) -> str:
            text = (await alice.get(page)).text
            return "active" if "Leave the association" in text else "pending" if "Request pending" in text else "none"

        async def alice_is(page: str, state: str) -> bool:
            return await membership(page) == state

        async def members_of(handle: str) -> str:
            return (await bob.get(f"/associations/{handle}/members")).text

        # an open association, found by its handle through WebFinger: the Follow is accepted at once
        restos = await find("restos")
        assert (await post_form(alice, f"{restos}/join", {}, page=restos)).status_code == 303
        await eventually(lambda: alice_is(restos, "active"), "restos accepts alice", servers)
        assert alice_handle in await members_of("restos")

        # a moderated association: the request waits for bob, who refuses it (a Reject)
        club = await find("club")
        await post_form(alice, f"{club}/join", {}, page=club)

        async def request_arrived() -> bool:
            return alice_handle in await members_of("club")

        await eventually(request_arrived, "club receives the request", servers)
        assert await membership(club) == "pending"
        refuse = re.search(r'action="(/associations/club/members/\d+/refuse)"', await members_of("club"))
        assert refuse is not None
        members = "/associations/club/members"
        assert (await post_form(bob, refuse.group(1), {}, page=members)).status_code == 303
        await eventually(lambda: alice_is(club, "none"), "alice sees the refusal", servers)

        # alice leaves restos: an Undo, and restos no longer lists her
        left = await post_form(alice, f"{restos}/leave", {}, page=f"{restos}/leave")
        assert left.status_code == 303

        async def restos_forgot_alice() -> bool:
            return alice_handle not in await members_of("restos")

        await eventually(restos_forgot_alice, "restos receives the Undo", servers)
        assert await membership(restos) == "none"
