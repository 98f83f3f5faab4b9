"""In-app notifications: a person sees what happened, in their language, and can mark it read."""

from __future__ import annotations

from starlette.applications import Starlette

from tests.associations_support import found, person, send
from tests.conftest import make_client


async def test_a_manager_sees_a_join_request_and_marks_it_read(app: Starlette) -> None:
    manager = await person(app, "camille")
    assert (await found(manager, handle="amis", name="Les Amis", moderate_membership="1")).status_code == 303
    volunteer = await person(app, "lea")
    assert (await send(volunteer, "/associations/amis/join", {"message": "Bonjour"})).status_code == 303

    home = await manager.get("/")
    assert 'class="count"' in home.text  # the menu shows an unread count
    page = await manager.get("/notifications")
    assert page.status_code == 200
    assert "Lea asks to join Les Amis." in page.text
    assert 'href="/associations/amis' in page.text

    french = await manager.get("/notifications", headers={"Accept-Language": "fr"})
    assert "Les Amis" in french.text and "Lea asks to join" not in french.text

    assert (await send(manager, "/notifications/read")).status_code == 303
    assert 'class="count"' not in (await manager.get("/")).text
    assert "Nothing new" not in (await manager.get("/notifications")).text  # read ones stay listed

    empty = await volunteer.get("/notifications")
    assert "Nothing new for now." in empty.text


async def test_notifications_need_a_login_and_a_csrf_token(app: Starlette) -> None:
    async with make_client(app) as anonymous:
        assert (await anonymous.get("/notifications")).status_code == 303
    someone = await person(app, "tom")
    refused = await someone.post("/notifications/read", data={"csrf_token": "forged"})
    assert refused.status_code == 403
