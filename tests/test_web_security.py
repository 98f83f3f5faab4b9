"""Web security: CSRF refused on every HTML form, the session cookie's flags, and untrusted text shown escaped.

(The authorization matrix over every route and role is not written yet.)
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from instance.models import User
from instance.runtime import Instance
from instance.services.associations import create_association
from tests.conftest import create_user, log_in, make_client, post_form

XSS = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>"
NOT_FORMS = ("/inbox", "/actor/inbox", "/users/{handle}/inbox", "/associations/{handle}/inbox", "/verify")


def post_routes(app: Starlette) -> list[str]:
    """The paths of every HTML form route (POST), the API and the ActivityPub inboxes aside."""
    found: list[str] = []

    def walk(routes: list[object], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(list(route.routes or []), prefix + route.path)
            elif isinstance(route, Route) and "POST" in (route.methods or set()):
                path = prefix + route.path
                if not path.startswith("/api/") and path not in NOT_FORMS:
                    found.append(path)

    walk(list(app.routes), "")
    return found


def filled(path: str) -> str:
    """``path`` with its parameters filled with objects that exist (the association restos, the first rows)."""
    path = path.replace("{handle}", "restos").replace("{decision:str}", "approve").replace("{action:str}", "suspend")
    return re.sub(r"\{[a-z_]+(:[a-z]+)?\}", "1", path)


@pytest.fixture
async def admin(instance: Instance, client: httpx.AsyncClient) -> httpx.AsyncClient:
    await create_user(instance, "root@example.org", "root", admin=True)
    async with instance.sessions() as db:
        user = await db.scalar(select(User).where(User.handle == "root"))
        assert user is not None
        await create_association(db, instance.settings, user, handle="restos", name="Restos")
        await db.commit()
    await log_in(client, "root@example.org")
    return client


async def test_every_form_refuses_a_post_without_its_csrf_token(app: Starlette, admin: httpx.AsyncClient) -> None:
    paths = post_routes(app)
    assert len(paths) > 50
    accepted = []
    for path in paths:
        for data in ({}, {"csrf_token": "forged"}):
            response = await admin.post(filled(path), data=data)
            if response.status_code < 400 or response.status_code >= 500:
                accepted.append((path, data, response.status_code))
    assert accepted == []


async def test_a_form_from_another_site_is_refused(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/me/edit")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = await admin.post(
        "/me/edit",
        data={"csrf_token": token.group(1), "display_name": "Evil"},
        headers={"Origin": "https://evil.test"},
    )
    assert response.status_code == 403


async def test_the_session_cookie_is_http_only_lax_and_secure(app: Starlette, instance: Instance) -> None:
    await create_user(instance)
    async with make_client(app) as browser:
        page = await browser.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        response = await browser.post(
            "/login",
            data={"csrf_token": token.group(1), "email": "alice@example.org", "password": "correct horse battery"},
        )
    cookies = [value for name, value in response.headers.multi_items() if name == "set-cookie"]
    assert cookies
    for cookie in cookies:
        flags = cookie.lower()
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert "secure" in flags


async def test_a_display_name_is_shown_escaped(app: Starlette, instance: Instance, admin: httpx.AsyncClient) -> None:
    response = await post_form(admin, "/me/edit", {"display_name": XSS, "handle": "root"}, page="/me/edit")
    assert response.status_code in (200, 303), response.text
    for path in ("/me", "/associations/restos", "/"):
        page = await admin.get(path)
        assert "<script>alert" not in page.text, path
        assert "<img src=x" not in page.text, path


async def test_an_association_name_and_description_are_shown_escaped(admin: httpx.AsyncClient) -> None:
    form = await admin.get("/associations/restos/edit")
    assert form.status_code == 200
    data = {"name": XSS, "description": XSS, "email": "", "website": ""}
    response = await post_form(admin, "/associations/restos/edit", data, page="/associations/restos/edit")
    assert response.status_code in (200, 303), response.text
    for path in ("/associations/restos", "/associations", "/"):
        page = await admin.get(path)
        assert "<script>alert('x')</script>" not in page.text, path
        assert "<img src=x" not in page.text, path
