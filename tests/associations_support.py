"""What the association, membership and admin tests share: people, browsers and a few user actions."""

from __future__ import annotations

from email.header import decode_header, make_header
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import Association, Membership, Role, User
from instance.runtime import Instance
from instance.worker import Worker
from tests.conftest import Mailbox, create_user, log_in, make_client, post_form


async def person(app: Starlette, handle: str, *, admin: bool = False) -> httpx.AsyncClient:
    """A new account ``handle`` (mail ``handle@example.org``), logged in in its own browser, reading English."""
    instance: Instance = app.state.instance
    email = f"{handle}@example.org"
    await create_user(instance, email, handle, display_name=handle.capitalize(), admin=admin)
    browser = make_client(app)
    browser.headers["Accept-Language"] = "en"
    await log_in(browser, email)
    return browser


async def found(
    browser: httpx.AsyncClient, handle: str = "amis", name: str = "Les Amis", **fields: Any
) -> httpx.Response:
    """Fill in and send the association creation form."""
    data: dict[str, Any] = {"handle": handle, "name": name, "moderate_entries": "1", **fields}
    return await post_form(browser, "/associations/new", data, page="/associations/new")


async def send(
    browser: httpx.AsyncClient, path: str, data: dict[str, Any] | None = None, **kwargs: Any
) -> httpx.Response:
    """Submit a form (the CSRF token is read from the directory page, which every browser can see)."""
    return await post_form(browser, path, data, page="/associations", **kwargs)


async def association(instance: Instance, handle: str) -> Association | None:
    async with instance.sessions() as db:
        return await db.scalar(select(Association).where(Association.handle == handle))


async def membership(instance: Instance, handle: str, user_handle: str) -> Membership | None:
    async with instance.sessions() as db:
        return await db.scalar(
            select(Membership)
            .join(Association, Association.id == Membership.association_id)
            .join(User, User.id == Membership.user_id)
            .where(Association.handle == handle, User.handle == user_handle)
        )


async def role_named(instance: Instance, handle: str, name: str) -> Role:
    async with instance.sessions() as db:
        role = await db.scalar(
            select(Role)
            .join(Association, Association.id == Role.association_id)
            .where(Association.handle == handle, Role.name == name)
        )
    assert role is not None, f"no role {name} in {handle}"
    return role


MANAGER_ROLE = "Dirigeant"
HELPER_ROLE = "Animat⋅eur⋅rice"
VOLUNTEER_ROLE = "Bénévole"


def smtp_settings(server: tuple[Mailbox, int]) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": server[1], "smtp_security": "none"}


async def mails_to(worker: Worker, mailbox: Mailbox, address: str) -> list[tuple[str, str]]:
    """(subject, body) of every mail received by ``address``, once the worker has sent what is queued."""
    await worker.run_until_idle()
    return [(str(make_header(decode_header(m["Subject"]))), Mailbox.body(m)) for m in mailbox.to(address)]
