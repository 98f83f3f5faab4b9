"""The outbound client: address checks (SSRF), domain policy, redirects, content types, size and id checks.

The remote side is a small real ASGI app (``evil.test``) serving well- and ill-formed documents.
"""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import quote

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
