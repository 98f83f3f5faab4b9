"""The Bénévalibre 2.x move protocol, seen from the target: ask the origin, then confirm to it.

The export's metadata names the origin's move endpoint (``https://origin/api/v1/associations/<id>/migrate``)
and a token. Our reading of that endpoint (see docs/moving-from-benevalibre.md):

- before importing, ``GET <endpoint>?token=<token>`` (``Accept: application/json``): the origin answers 200
  with a JSON object whose ``is_done`` is false while the move is open; true, 410, 404 or 403 mean the move
  cannot be made (done, unknown or refused);
- after the import commits, ``POST <endpoint>`` with the JSON body ``{"token": ..., "url": <new address>}``
  (Bénévalibre 2.0.1 reads JSON there); any 2xx, or an answer saying ``is_done: true``, confirms it. A
  network error, a 5xx, 408, 425 or 429 is retried by the worker with a growing delay; another 4xx is a
  refusal, kept as the move's last error.

Requests go through an ``httpx.AsyncClient`` given by the caller, checked first: https only (http too in
development mode), and the host must resolve to public addresses only unless ``settings.dev_mode``. No
redirect is followed; answers are read up to 64 KiB; timeouts are 5 s to connect, 10 s to read, 30 s in all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import Association, AssociationMove, MoveState, utcnow
from instance.settings import Settings
from instance.worker import claim

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
TOTAL_SECONDS = 30.0
MAX_ANSWER_BYTES = 65_536
MAX_ATTEMPTS = 16
FIRST_DELAY = 60.0
MAX_DELAY = 6 * 3600.0
RETRIED_STATUSES = frozenset({408, 425, 429})

Resolver = Callable[[str, int], Awaitable[list[str]]]


class OriginError(Exception):
    """The origin could not be asked, or answered something else than expected."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(value: str) -> bool:
    address = ipaddress.ip_address(value.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved)


def new_client() -> httpx.AsyncClient:
    """A client with the limits this protocol expects (for the worker and the callers that have none)."""
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": "benevalibre-fed"})


class OriginClient:
    """Checked requests to an origin instance's move endpoint, through an injected ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings, resolver: Resolver = system_resolver) -> None:
        self.http = http
        self.settings = settings
        self.resolver = resolver

    async def check_target(self, url: str) -> None:
        parts = urlsplit(url)
        schemes = ("https", "http") if self.settings.dev_mode else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise OriginError(f"refused address {url}: not {' or '.join(schemes)}", permanent=True)
        if self.settings.dev_mode:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = await self.resolver(parts.hostname, port)
        except OSError as error:
            raise OriginError(f"cannot resolve {parts.hostname}: {error}") from error
        if not addresses or not all(is_public(address) for address in addresses):
            raise OriginError(f"refused host {parts.hostname}: it is not a public address", permanent=True)

    async def _request(self, method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any] | None]:
        await self.check_target(url)
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        try:
            async with (
                asyncio.timeout(TOTAL_SECONDS),
                self.http.stream(method, url, headers=headers, **kwargs) as response,
            ):
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise OriginError(f"{url}: the answer is larger than {MAX_ANSWER_BYTES} bytes")
                status = response.status_code
        except (httpx.HTTPError, TimeoutError) as error:
            raise OriginError(f"{url}: {type(error).__name__}: {error}".rstrip(": ")) from error
        try:
            document = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            document = None
        return status, document if isinstance(document, dict) else None

    async def move_is_open(self, endpoint: str, token: str) -> None:
        """Ask whether the move is still open; ValidationError (on ``file``) saying why not otherwise."""
        try:
            status, answer = await self._request("GET", endpoint, params={"token": token})
        except OriginError as error:
            raise ValidationError(
                {
                    "file": lazy_gettext(
                        "The origin instance could not be asked whether this move is still open (%(reason)s). "
                        "Try again later.",
                        reason=error.reason,
                    )
                }
            ) from error
        if status == 200 and answer is not None and answer.get("is_done") is False:
            return
        if status == 410 or (status == 200 and answer is not None and answer.get("is_done") is True):
            message = lazy_gettext("The origin instance says this move is already done: this export was used.")
        elif status in (401, 403, 404):
            message = lazy_gettext(
                "The origin instance does not know this move or refused its token (HTTP %(status)s). "
                "Make a new export there.",
                status=status,
            )
        else:
            message = lazy_gettext(
                "The origin instance gave an unexpected answer (HTTP %(status)s) about this move.", status=status
            )
        raise ValidationError({"file": message})

    async def confirm(self, endpoint: str, token: str, url: str) -> None:
        """Tell the origin the move is done; OriginError (``permanent`` for a refusal) otherwise."""
        status, answer = await self._request("POST", endpoint, json={"token": token, "url": url})
        if 200 <= status < 300 or (answer is not None and answer.get("is_done") is True):
            return
        text = f"the origin answered HTTP {status}" + (f": {json.dumps(answer)[:300]}" if answer else "")
        raise OriginError(text, permanent=400 <= status < 500 and status not in RETRIED_STATUSES)


def retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(FIRST_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY))


async def attempt_confirmation(db: AsyncSession, origin: OriginClient, move: AssociationMove, base_url: str) -> None:
    """One attempt at the final confirmation; its outcome is recorded on ``move`` and committed.

    The attempt is counted and committed before the request, so a crash mid-way still counts it.
    """
    move.attempts += 1
    await db.commit()
    association = await db.get(Association, move.association_id) if move.association_id else None
    try:
        if association is None:
            raise OriginError("the imported association was deleted", permanent=True)
        url = base_url.rstrip("/") + f"/associations/{association.handle}"
        await origin.confirm(move.origin_endpoint, move.origin_token, url)
    except OriginError as error:
        move.last_error = error.reason[:2000]
        if error.permanent or move.attempts >= MAX_ATTEMPTS:
            move.state = MoveState.FAILED
        else:
            move.next_attempt_at = utcnow() + retry_delay(move.attempts)
        log.warning("move %s: confirmation to %s failed: %s", move.id, move.origin_endpoint, error.reason)
    else:
        move.state = MoveState.CONFIRMED
        move.confirmed_at = utcnow()
        move.last_error = ""
    move.locked_until = None  # claim() recorded the lock it set, so this is written
    await db.commit()


class MoveConfirmationTask:
    """The worker's part: retry the confirmations that the origin has not acknowledged yet."""

    name = "move-confirmations"

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions

    async def run_once(self) -> int:
        async with self.sessions() as db:
            due = (AssociationMove.state == MoveState.PENDING) & (AssociationMove.next_attempt_at <= utcnow())
            moves = await claim(db, AssociationMove, due, AssociationMove.next_attempt_at, limit=10)
            if not moves:
                return 0
            async with new_client() as http:
                origin = OriginClient(http, self.settings)
                for move in moves:
                    await attempt_confirmation(db, origin, move, self.settings.base_url)
            return len(moves)
