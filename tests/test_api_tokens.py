"""Personal access tokens: made and revoked from the profile, shown once, stored hashed, scoped, rate limited;
tokens never work on HTML forms, and sessions never work on the API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select, text
from starlette.applications import Starlette

from instance.models import ApiToken
from instance.runtime import Instance
from tests.api_support import api, error_of, make_token, world
from tests.associations_support import person, send

TOKEN_RE = re.compile(r'<code class="token" id="new-token">([^<]+)</code>')


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"api_rate_limit": 20}


async def test_make_use_and_revoke_a_token_from_the_profile(app: Starlette, instance: Instance) -> None:
    browser = await person(app, "dora")
    profile = await browser.get("/me")
    assert "/me/tokens" in profile.text and "/me/data" in profile.text
    made = await send(browser, "/me/tokens", {"name": "Phone shortcut", "scope": "write"})
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    match = TOKEN_RE.search(made.text)
    assert match, made.text
    secret = match.group(1)
    listing = await browser.get("/me/tokens")
    assert "Phone shortcut" in listing.text
    assert secret not in listing.text  # shown once only
    assert secret[:12] in listing.text  # its prefix tells it apart
    async with instance.engine.connect() as connection:  # the database never holds the token itself
        rows = (await connection.execute(text("SELECT * FROM api_tokens"))).all()
    assert rows and all(secret not in str(value) for row in rows for value in row)
    async with api(app, secret) as script:
        me = await script.get("/api/v1/me")
        assert me.status_code == 200
        assert me.json()["handle"] == "dora"
        assert me.json()["token"] == {"name": "Phone shortcut", "scope": "write", "association": None}
    async with instance.sessions() as db:
        token = await db.scalar(select(ApiToken))
        assert token is not None and token.last_used_at is not None
    async with api(app, secret) as script:  # used again within the minute: no write
        assert (await script.get("/api/v1/me")).status_code == 200
    async with instance.sessions() as db:
        assert await db.scalar(select(ApiToken.last_used_at)) == token.last_used_at
    revoked = await send(browser, f"/me/tokens/{token.id}/revoke")
    assert revoked.status_code == 303
    async with api(app, secret) as script:
        assert (await script.get("/api/v1/me")).status_code == 401


async def test_token_form_errors_name_the_field(app: Starlette) -> None:
    browser = await person(app, "dora")
    response = await send(browser, "/me/tokens", {"name": "", "scope": "admin", "association": "nowhere"})
    assert response.status_code == 400
    for field in ("name", "scope", "association"):
        assert f'id="e-{field}"' in response.text


async def test_someone_elses_token_cannot_be_revoked(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with instance.sessions() as db:
        token_id = await db.scalar(select(ApiToken.id).where(ApiToken.user_id == w.bob.id))
    browser = await person(app, "dora")
    response = await send(browser, f"/me/tokens/{token_id}/revoke")
    assert response.status_code == 404
    async with w.client(app, "bob") as bob:
        assert (await bob.get("/api/v1/me")).status_code == 200


async def test_a_token_does_not_work_on_html_forms(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with w.client(app, "bob") as bob:
        page = await bob.get("/me/edit")
        assert page.status_code == 303  # the HTML pages ignore the token: log in first
        posted = await bob.post("/me/edit", data={"display_name": "Hacked", "pseudonym": "", "language": ""})
        assert posted.status_code in (303, 403)
        assert (await bob.get("/api/v1/me")).json()["display_name"] == "Bob"


async def test_a_session_cookie_does_not_work_on_the_api(app: Starlette) -> None:
    browser = await person(app, "dora")
    assert (await browser.get("/me")).status_code == 200
    response = await browser.get("/api/v1/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert (await browser.patch("/api/v1/me", json={"pseudonym": "x"})).status_code == 401


async def test_rate_limit_per_token(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    async with w.client(app, "bob") as bob, w.client(app, "alice") as alice:
        for _ in range(20):
            assert (await bob.get("/api/v1/me")).status_code == 200
        limited = await bob.get("/api/v1/me")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert error_of(limited)["code"] == "rate_limited"
        assert (await alice.get("/api/v1/me")).status_code == 200  # another token has its own budget


async def test_a_token_limited_to_one_association(app: Starlette, instance: Instance) -> None:
    w = await world(app)
    browser = await person(app, "dora")
    await send(browser, "/associations/new", {"handle": "jardin", "name": "Le Jardin"})
    other = await send(browser, "/me/tokens", {"name": "Jardin", "scope": "write", "association": "jardin"})
    match = TOKEN_RE.search(other.text)
    assert match
    async with api(app, match.group(1)) as script:
        me = await script.get("/api/v1/me")
        assert me.json()["token"]["association"] == "jardin"
        assert (await script.get("/api/v1/associations/jardin")).status_code == 200
        assert (await script.get("/api/v1/associations/restos")).status_code == 403
        assert (await script.get("/api/v1/me/archive")).status_code == 403
        assert (await script.patch("/api/v1/me", json={"pseudonym": "x"})).status_code == 403
        listed = await script.get("/api/v1/associations")
        assert [a["handle"] for a in listed.json()["items"]] == ["jardin"]
    bob_limited = await make_token(instance, w.bob, "write", association="restos")
    async with api(app, bob_limited) as script:
        body = {"association": "restos", "duration_minutes": 30, "title": "Phone"}
        assert (await script.post("/api/v1/me/entries", json=body)).status_code == 201
