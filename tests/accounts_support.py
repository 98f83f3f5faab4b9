"""What the account tests share: a mail server, English pages, a browser with its own address, helpers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from instance.models import User
from instance.runtime import Instance
from instance.worker import Worker
from tests.conftest import BASE_URL, PASSWORD, Mailbox, post_form


@pytest.fixture
def settings_overrides(smtp: tuple[Mailbox, int]) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_security": "none"}


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    return smtp[0]


@pytest.fixture(autouse=True)
def english(client: httpx.AsyncClient) -> None:
    """Pages in English, so that assertions read the msgids whatever the catalogs say."""
    client.headers["Accept-Language"] = "en"


def browser(app: Starlette, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    """Another browser (its own cookies), from the address ``ip``."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, follow_redirects=False, headers={"Accept-Language": "en"}
    )


async def register(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    data = {
        "email": "bea@example.org",
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        "display_name": "Béa Dupont",
        "pseudonym": "",
        "handle": "bea",
        "language": "en",
        **fields,
    }
    return await post_form(client, "/register", data, page="/register")


async def count(instance: Instance, model: type[Any]) -> int:
    async with instance.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def user_named(instance: Instance, handle: str) -> User | None:
    async with instance.sessions() as db:
        return await db.scalar(select(User).where(User.handle == handle))


async def mails_to(worker: Worker, mailbox: Mailbox, address: str) -> list[str]:
    await worker.run_until_idle()
    return [Mailbox.body(message) for message in mailbox.to(address)]
