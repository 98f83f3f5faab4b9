"""The outbound client: address checks (SSRF), domain policy, redirects, content types, size and id checks.

The remote side is a small real ASGI app (``evil.test``) serving well- and ill-formed documents.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.client import FederationClient, FetchError, is_public_address
from federation.local_keys import instance_owner
from federation.policy import set_domain
from tests.federation_support import AP, Pair

EVIL = "https://evil.test"


def document(request: Request) -> Response:
    name = request.path_params["name"]
    ids = {"wrong-id": "other", "moved-id": "doc", "other": "elsewhere"}
    body = {"id": f"{EVIL}/docs/{ids.get(name, name)}", "type": "Note"}
    return Response(json.dumps(body), media_type=request.query_params.get("type", AP))


def hop(request: Request) -> Response:
    left = request.path_params["left"]
    return RedirectResponse(f"/hop/{left - 1}" if left else "/docs/doc", status_code=302)


def big(request: Request) -> Response:
    return Response(json.dumps({"id": f"{EVIL}/big", "content": "x" * 2_000_000}), media_type=AP)


evil_app = Starlette(
    routes=[Route("/docs/{name}", document), Route("/hop/{left:int}", hop), Route("/big", big)],
)


def client_for(pair: Pair, *, dev_mode: bool, resolver: dict[str, list[str]] | None = None) -> FederationClient:
    pair.router.add("evil.test", evil_app, "192.0.2.9")
    settings = dataclasses.replace(pair.a.instance.settings, dev_mode=dev_mode)
    addresses = resolver or {}

    async def resolve(host: str, port: int) -> list[str]:
        return addresses.get(host, [host.strip("[]")])

    return FederationClient(settings, pair.a.instance.sessions, pair.router, resolve)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/actor",
        "https://localhost/actor",
        "https://10.1.2.3/actor",
        "https://192.168.1.1/actor",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/actor",
        "https://[fe80::1]/actor",
        "https://224.0.0.1/actor",
        "https://internal.test/actor",
        "http://evil.test/docs/doc",
    ],
)
async def test_non_public_targets_are_refused_outside_dev_mode(pair: Pair, url: str) -> None:
    client = client_for(pair, dev_mode=False, resolver={"localhost": ["127.0.0.1"], "internal.test": ["10.0.0.5"]})
    try:
        with pytest.raises(FetchError):
            await client.fetch(url)
    finally:
        await client.aclose()
    assert pair.router.requests == []


async def test_a_public_address_is_fetched_outside_dev_mode(pair: Pair) -> None:
    client = client_for(pair, dev_mode=False, resolver={"evil.test": ["93.184.215.14"]})
    try:
        found = await client.fetch(f"{EVIL}/docs/doc")
    finally:
        await client.aclose()
    assert found["id"] == f"{EVIL}/docs/doc"


def test_public_addresses() -> None:
    assert is_public_address("93.184.215.14") and is_public_address("2606:4700::1111")
    for address in ("127.0.0.1", "10.0.0.1", "172.16.0.1", "100.64.0.1", "::ffff:127.0.0.1", "0.0.0.0", "fc00::1"):  # noqa: S104
        assert not is_public_address(address), address


async def test_redirects_are_followed_three_times_and_signed_each_time(pair: Pair) -> None:
    client = client_for(pair, dev_mode=True)
    signer = await client.signing_keys(instance_owner(client.settings))
    try:
        found = await client.fetch(f"{EVIL}/hop/2", signer)
        with pytest.raises(FetchError, match="redirects"):
            await client.fetch(f"{EVIL}/hop/3", signer)
    finally:
        await client.aclose()
    assert found["id"] == f"{EVIL}/docs/doc"
    assert all("signature" in request.headers for request in pair.router.to("evil.test"))


async def test_the_id_must_be_the_url_after_one_refetch(pair: Pair) -> None:
    client = client_for(pair, dev_mode=True)
    try:
        moved = await client.fetch(f"{EVIL}/docs/moved-id")
        with pytest.raises(FetchError, match="id"):
            await client.fetch(f"{EVIL}/docs/wrong-id")
    finally:
        await client.aclose()
    assert moved["id"] == f"{EVIL}/docs/doc"


async def test_content_type_and_size_are_checked(pair: Pair) -> None:
    client = client_for(pair, dev_mode=True)
    profile = quote('application/ld+json; profile="https://www.w3.org/ns/activitystreams"')
    try:
        assert (await client.fetch(f"{EVIL}/docs/doc?type={profile}"))["type"] == "Note"
        for kind in ("text/html", "application/ld+json", "application/json"):
            with pytest.raises(FetchError, match="not an ActivityPub document"):
                await client.fetch(f"{EVIL}/docs/doc?type={quote(kind)}")
        with pytest.raises(FetchError, match="larger"):
            await client.fetch(f"{EVIL}/big")
    finally:
        await client.aclose()


async def test_a_blocked_domain_is_never_requested(pair: Pair) -> None:
    async with pair.a.instance.sessions() as db:
        await set_domain(db, "evil.test", blocked=True)
        await db.commit()
    client = client_for(pair, dev_mode=True)
    try:
        with pytest.raises(FetchError, match="refused domain"):
            await client.fetch(f"{EVIL}/docs/doc")
    finally:
        await client.aclose()
    assert pair.router.requests == []


# -- DNS rebinding: the connection goes to the address that was checked -------------------------------------


class TinyServer:
    """A real HTTP server on a loopback address that serves one ActivityPub document and records Host headers."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, address: str) -> None:
        self.server = await asyncio.start_server(self.answer, address, 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        host = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("host:"))
        self.hosts.append(host)
        body = json.dumps({"id": f"http://{host}/doc", "type": "Note"}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_the_connection_goes_to_the_checked_address_not_a_new_resolution(pair: Pair) -> None:
    server = TinyServer()
    await server.start("127.0.0.2")  # the system resolves localhost to 127.0.0.1, where nothing listens
    asked: list[str] = []

    async def checked(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.2"]

    settings = dataclasses.replace(pair.a.instance.settings, dev_mode=True)
    client = FederationClient(settings, pair.a.instance.sessions, None, checked)
    try:
        found = await client.fetch(f"http://localhost:{server.port}/doc")
    finally:
        await client.aclose()
        await server.stop()
    assert found["id"] == f"http://localhost:{server.port}/doc"
    assert server.hosts == [f"localhost:{server.port}"]  # the Host header keeps the name
    assert asked == ["localhost"]


async def test_a_connection_without_a_checked_address_is_refused(pair: Pair) -> None:
    server = TinyServer()
    await server.start("127.0.0.1")
    client = FederationClient(pair.a.instance.settings, pair.a.instance.sessions)
    try:
        with pytest.raises(httpx.ConnectError, match="no checked address"):
            await client.http.get(f"http://127.0.0.1:{server.port}/doc")  # not through check_target
    finally:
        await client.aclose()
        await server.stop()
    assert server.hosts == []


async def test_a_proxy_named_in_the_environment_is_not_used(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    server, proxy = TinyServer(), TinyServer()
    await server.start("127.0.0.2")
    await proxy.start("127.0.0.3")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.3:{proxy.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def checked(host: str, port: int) -> list[str]:
        return ["127.0.0.2"]

    settings = dataclasses.replace(pair.a.instance.settings, dev_mode=True)
    client = FederationClient(settings, pair.a.instance.sessions, None, checked)
    try:
        found = await client.fetch(f"http://localhost:{server.port}/doc")
    finally:
        await client.aclose()
        await server.stop()
        await proxy.stop()
    assert found["id"] == f"http://localhost:{server.port}/doc"
    assert server.hosts == [f"localhost:{server.port}"]
    assert proxy.hosts == []
