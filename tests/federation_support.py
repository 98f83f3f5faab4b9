"""Two real instances talking ActivityPub in-process: ``a.test`` and ``b.test``, each its own app and database.

Their outbound HTTP goes through :class:`Router`, an httpx transport that hands each request to the app of its
host (and records it), or fails like a server that is down. The ``pair`` fixture that builds them is in
``tests/federation_fixtures.py`` (test modules load it with ``pytest_plugins``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from federation.httpsig import sign_request
from federation.local_keys import SigningKeys, actor_key, open_keys, owner_of
from instance.models import Association, Base, User
from instance.runtime import Instance
from instance.services.associations import create_association
from instance.worker import Worker
from tests.conftest import create_user, log_in

AP = "application/activity+json"
HOSTS = ("a.test", "b.test")
Row = TypeVar("Row", bound=Base)


class Router(httpx.AsyncBaseTransport):
    """Routes each request to the in-process app of its host; ``down[host]`` makes a host fail: an int is the
    status it answers (with ``Retry-After`` from ``retry_after``), an exception class is raised instead;
    ``slow[host]`` makes it answer after that many seconds."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}
        self.requests: list[httpx.Request] = []
        self.down: dict[str, int | type[Exception]] = {}
        self.retry_after: str | None = None
        self.slow: dict[str, float] = {}

    def add(self, host: str, app: Starlette, client_ip: str) -> None:
        self.apps[host] = httpx.ASGITransport(app=app, client=(client_ip, 40000))

    def to(self, host: str) -> list[httpx.Request]:
        return [request for request in self.requests if request.url.host == host]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host = request.url.host
        if host in self.slow:
            await asyncio.sleep(self.slow[host])
        failure = self.down.get(host)
        if isinstance(failure, int):
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return httpx.Response(failure, headers=headers, text="unavailable", request=request)
        if failure is not None:
            raise failure(f"{host} is down")
        transport = self.apps.get(host)
        if transport is None:
            raise httpx.ConnectError(f"no route to {host}", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Side:
    """One instance: its app, its worker and a browser factory."""

    host: str
    app: Starlette
    worker: Worker = field(init=False)

    def __post_init__(self) -> None:
        self.worker = Worker(self.instance.tasks)

    @property
    def instance(self) -> Instance:
        found: Instance = self.app.state.instance
        return found

    @property
    def base(self) -> str:
        return f"https://{self.host}"

    def browser(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=("198.51.100.7", 50000))
        client = httpx.AsyncClient(transport=transport, base_url=self.base, follow_redirects=False)
        client.headers["Accept-Language"] = "en"
        return client

    async def user(self, handle: str) -> None:
        """A new account ``handle`` on this instance (mail ``handle@host``), not logged in anywhere."""
        await create_user(self.instance, f"{handle}@{self.host}", handle, display_name=handle.capitalize())

    async def person(self, handle: str) -> httpx.AsyncClient:
        """A new account ``handle`` on this instance, logged in in its own browser."""
        await self.user(handle)
        browser = self.browser()
        await log_in(browser, f"{handle}@{self.host}")
        return browser

    async def association(self, owner: str, handle: str, **fields: Any) -> Association:
        async with self.instance.sessions() as db:
            user = await db.scalar(select(User).where(User.handle == owner))
            assert user is not None
            found = await create_association(
                db, self.instance.settings, user, handle=handle, name=handle.title(), **fields
            )
            await db.commit()
            return found

    async def keys(self, handle: str) -> SigningKeys:
        """The opened keys of the local volunteer ``handle`` (to sign requests by hand)."""
        async with self.instance.sessions() as db:
            user = await db.scalar(select(User).where(User.handle == handle))
            assert user is not None
            row = await actor_key(db, self.instance.settings, owner_of(self.instance.settings, user))
            await db.commit()
        return open_keys(self.instance.settings, row)

    async def count(self, model: type[Base], *where: Any) -> int:
        async with self.instance.sessions() as db:
            return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    async def rows(self, model: type[Row], *where: Any) -> list[Row]:
        async with self.instance.sessions() as db:
            return list((await db.scalars(select(model).where(*where))).all())


@dataclass
class Pair:
    a: Side
    b: Side
    router: Router

    async def settle(self, rounds: int = 30) -> None:
        """Step both workers until neither has anything left to do."""
        for _round in range(rounds):
            done = await self.a.worker.run_once() + await self.b.worker.run_once()
            if not done:
                return
        raise AssertionError("the workers never became idle")


# -- hand-made signed requests -----------------------------------------------------------------------------


def activity_bytes(activity: dict[str, Any]) -> bytes:
    return json.dumps(activity).encode("utf-8")


async def post_signed(
    side: Side,
    path: str,
    activity: dict[str, Any] | bytes,
    keys: SigningKeys | None,
    *,
    now: datetime | None = None,
    sent_body: bytes | None = None,
    content_type: str = AP,
) -> httpx.Response:
    """POST ``activity`` to ``path`` on ``side``, signed with ``keys`` (unsigned when None); ``sent_body``
    replaces the body after signing (to break the digest)."""
    url = side.base + path
    body = activity if isinstance(activity, bytes) else activity_bytes(activity)
    headers = {"Content-Type": content_type}
    if keys is not None:
        headers = sign_request("POST", url, headers, body, keys.rsa_key_id, keys.rsa, now=now)
    async with side.browser() as http:
        return await http.post(path, content=sent_body if sent_body is not None else body, headers=headers)
