"""The home page and the pages every visitor sees."""

from __future__ import annotations

import httpx

from instance.runtime import Instance
from tests.conftest import create_user, log_in


async def test_home_page_speaks_french_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text


async def test_home_page_follows_the_browser_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in response.text
    assert "Give time, count it, value it" in response.text


async def test_unknown_page_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "<h1>" in response.text


async def test_security_headers_on_every_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_a_number_too_large_for_the_database_is_a_404_not_a_crash(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await create_user(instance)
    await log_in(client)
    for huge in (2**31, 2**63, 10**30):
        response = await client.get(f"/entries/{huge}/edit")
        assert response.status_code == 404, huge
