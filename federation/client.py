"""The outbound HTTP client: signed GETs of ActivityPub documents and WebFinger, signed POSTs to inboxes.

One ``httpx.AsyncClient`` per application (built by ``create_app``, closed at shutdown). Every request target is
checked first: http(s) only (https outside development mode), the domain policy (blocks, allow-list), and the
addresses the host resolves to must be public (no loopback, private, link-local, multicast or reserved address)
unless ``settings.dev_mode``. The connection then goes to one of the addresses that were checked (the TLS server
name and ``Host`` stay the host's name), so a second DNS answer cannot switch it to another address (DNS
rebinding). Redirects (at most 3) are followed by hand so each hop is checked and signed again.
Bodies are read in chunks and refused past 1 MiB; timeouts are 5 s to connect, 10 s per read, 30 s in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import httpcore
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from federation import policy
from federation.discovery import software_version
from federation.httpsig import sign_request
from federation.local_keys import Owner, SigningKeys, actor_key, open_keys
from instance.settings import Settings

MAX_BODY_BYTES = 1_048_576
MAX_REDIRECTS = 3
TOTAL_SECONDS = 30.0
MAX_CONNECTIONS = 64  # open at once: the worker's delivery rounds send to 64 inboxes at most
KEEPALIVE_CONNECTIONS = 64  # idle ones kept for the next activity
KEEPALIVE_SECONDS = 30.0
TIMEOUT = httpx.Timeout(10.0, connect=5.0, read=10.0, write=10.0, pool=5.0)
ACTIVITY_JSON = "application/activity+json"
AS_PROFILE = "https://www.w3.org/ns/activitystreams"
ACCEPT_AP = f'{ACTIVITY_JSON}, application/ld+json; profile="{AS_PROFILE}"'
ACCEPT_JRD = "application/jrd+json, application/json"
KEY_FETCHES = 4

Resolver = Callable[[str, int], Awaitable[list[str]]]

# (host, port) -> the addresses checked for it by the request being made (one mapping per task).
_PINNED: contextvars.ContextVar[dict[tuple[str, int], list[str]]] = contextvars.ContextVar("pinned_addresses")


class FetchError(Exception):
    """A fetch or a post could not be done or its answer was refused; ``status`` is the HTTP status if any."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class PostResult:
    """The answer of an inbox to a POST: status, ``Retry-After`` (seconds or HTTP date) and the start of its body."""

    status: int
    retry_after: str | None
    text: str


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (what a connection would use)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public_address(value: str) -> bool:
    """Whether an IP address is globally routable: not private, loopback, link-local, multicast or reserved."""
    address = ipaddress.ip_address(value.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    refused = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    return address.is_global and not refused


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """``application/ld+json; profile="x"`` -> (``application/ld+json``, {profile: x})."""
    media, *raw = (part.strip() for part in content_type.split(";"))
    params = {}
    for item in raw:
        name, _, value = item.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return media.lower(), params


def is_activitypub_type(content_type: str) -> bool:
    media, params = media_type(content_type)
    if media == ACTIVITY_JSON:
        return True
    return media == "application/ld+json" and AS_PROFILE in params.get("profile", "").split()


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to the addresses ``check_target`` checked for the host, never resolving it again.

    httpcore still wraps the socket in TLS with the host's name (SNI and certificate check) and sends its ``Host``.
    A connection to a host with no checked address is refused.
    """

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = _PINNED.get({}).get((host.lower(), port))
        if not addresses:
            raise httpcore.ConnectError(f"no checked address for {host}:{port}")
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure or httpcore.ConnectError(f"cannot connect to {host}:{port}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over :class:`PinnedBackend`."""

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=PinnedBackend(),
            max_connections=MAX_CONNECTIONS,  # httpcore's default (10) would queue the worker's parallel deliveries
            max_keepalive_connections=KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_SECONDS,
        )


def _pin(host: str, port: int, addresses: list[str]) -> None:
    pins = dict(_PINNED.get({}))
    pins[(host.lower(), port)] = addresses
    _PINNED.set(pins)


class FederationClient:
    """Signed, checked HTTP for one instance. ``transport`` lets tests route requests to in-process apps (the
    addresses are then still checked, but no connection is made by this client, so nothing is pinned)."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.resolver = resolver
        self.pins = transport is None
        agent = f"benevalibre-fed/{software_version()} (+{settings.base_url})"
        self.http = httpx.AsyncClient(
            transport=transport or PinnedTransport(),
            timeout=TIMEOUT,
            follow_redirects=False,
            headers={"User-Agent": agent},
            trust_env=False,  # no proxy from the environment: connections go to the addresses checked here
        )
        self.policy = policy.PolicyCache(settings)
        self._keys: dict[str, SigningKeys] = {}
        self._keys_lock = asyncio.Lock()
        # Inbox requests that must fetch a key hold a database connection while they fetch, and the fetch needs
        # another one: a few at a time, so they can never take the whole pool and wait on each other.
        self.key_fetches = asyncio.Semaphore(KEY_FETCHES)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def signing_keys(self, owner: Owner) -> SigningKeys:
        """The opened keys of a local actor (created on first need), kept in memory once opened."""
        found = self._keys.get(owner.owner)
        if found is None:
            async with self._keys_lock:  # deliveries sent side by side open each actor's keys once
                found = self._keys.get(owner.owner)
                if found is None:
                    async with self.sessions() as db:
                        row = await actor_key(db, self.settings, owner)
                        await db.commit()
                    found = self._keys[owner.owner] = open_keys(self.settings, row)
        return found

    # -- checks ----------------------------------------------------------------------------------------------

    async def check_target(self, url: str) -> None:
        """Refuse a URL this instance must not request (scheme, domain policy, non-public address), and pin the
        checked addresses for the connection about to be made."""
        parts = urlsplit(url)
        allowed = ("https", "http") if self.settings.dev_mode else ("https",)
        if parts.scheme not in allowed or not parts.hostname:
            raise FetchError(f"refused URL {url!r}: not an {' or '.join(allowed)} URL")
        async with self.sessions() as db:
            try:
                await self.policy.check_domain(db, parts.hostname)
            except policy.DomainRefused as error:
                raise FetchError(f"refused domain {error.domain}: {error.reason}") from error
        if self.settings.dev_mode and not self.pins:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = await self.resolver(parts.hostname, port)
        except OSError as error:
            raise FetchError(f"cannot resolve {parts.hostname}: {error}") from error
        if not addresses:
            raise FetchError(f"cannot resolve {parts.hostname}: no address")
        if not self.settings.dev_mode and not all(is_public_address(address) for address in addresses):
            raise FetchError(f"refused host {parts.hostname}: it resolves to a non-public address")
        _pin(parts.hostname, port, addresses)

    # -- GET -------------------------------------------------------------------------------------------------

    async def fetch(self, url: str, signer: SigningKeys | None = None) -> dict[str, Any]:
        """Fetch an ActivityPub document; its ``id`` must be the final URL, else it is fetched once by its id."""
        async with bounded(url, FetchError):
            document, final = await self._get_json(urldefrag(url).url, ACCEPT_AP, signer, activitypub=True)
            if document.get("id") == final:
                return document
            other = document.get("id")
            if not isinstance(other, str) or not other:
                raise FetchError("the document has no id")
            document, final = await self._get_json(urldefrag(other).url, ACCEPT_AP, signer, activitypub=True)
            if document.get("id") != final:
                raise FetchError("the document's id is not its URL")
            return document

    async def fetch_jrd(self, url: str) -> dict[str, Any]:
        """Fetch a WebFinger (JRD) document, unsigned."""
        async with bounded(url, FetchError):
            document, _final = await self._get_json(url, ACCEPT_JRD, None, activitypub=False)
            return document

    async def _get_json(
        self, url: str, accept: str, signer: SigningKeys | None, *, activitypub: bool
    ) -> tuple[dict[str, Any], str]:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            await self.check_target(current)
            headers = {"Accept": accept}
            if signer is not None:
                headers = sign_request("GET", current, headers, None, signer.rsa_key_id, signer.rsa)
            try:
                async with self.http.stream("GET", current, headers=headers) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError("redirect without a Location", response.status_code)
                        current = urljoin(current, location)
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"{current} answered HTTP {response.status_code}", response.status_code)
                    self._check_type(response.headers.get("content-type", ""), activitypub)
                    body = await read_capped(response)
            except httpx.HTTPError as error:
                raise FetchError(f"{current}: {type(error).__name__}: {error}") from error
            return parse_object(body), current
        raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}")

    @staticmethod
    def _check_type(content_type: str, activitypub: bool) -> None:
        if activitypub and not is_activitypub_type(content_type):
            raise FetchError(f"not an ActivityPub document ({content_type or 'no content type'})")
        if not activitypub and media_type(content_type)[0] not in ("application/jrd+json", "application/json"):
            raise FetchError(f"not a JRD document ({content_type or 'no content type'})")

    # -- POST ------------------------------------------------------------------------------------------------

    async def post(self, url: str, body: bytes, signer: SigningKeys) -> PostResult:
        """POST an activity, signed; redirects are not followed. Transport errors raise ``httpx.HTTPError``."""
        await self.check_target(url)
        headers = sign_request(
            "POST", url, {"Content-Type": ACTIVITY_JSON, "Accept": ACCEPT_AP}, body, signer.rsa_key_id, signer.rsa
        )
        async with bounded(url, TimeoutError), self.http.stream("POST", url, content=body, headers=headers) as got:
            text = (await read_capped(got, limit=4096, truncate=True)).decode("utf-8", "replace")
            return PostResult(got.status_code, got.headers.get("retry-after"), text)


@contextlib.asynccontextmanager
async def bounded(url: str, error: type[Exception]) -> AsyncIterator[None]:
    """Give up after ``TOTAL_SECONDS`` in all, raising ``error`` with the reason: the per-read timeouts never end a
    request to a server that sends a byte now and then. A timeout from elsewhere goes on as it is."""
    deadline = asyncio.timeout(TOTAL_SECONDS)
    try:
        async with deadline:
            yield
    except TimeoutError as timeout:
        if not deadline.expired():
            raise
        raise error(f"{url}: no complete answer within {TOTAL_SECONDS:.0f} s") from timeout


async def read_capped(response: httpx.Response, limit: int = MAX_BODY_BYTES, *, truncate: bool = False) -> bytes:
    """Read the body in chunks; past ``limit`` bytes stop, and refuse (or keep the start when ``truncate``)."""
    declared = response.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit and not truncate:
        raise FetchError(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            if truncate:
                break
            raise FetchError(f"the body is larger than {limit} bytes")
    return b"".join(chunks)[:limit]


def parse_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON object; anything else raises ``FetchError``."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise FetchError("the body is not JSON") from error
    if not isinstance(document, dict):
        raise FetchError("the body is not a JSON object")
    if _holds_nul(document):  # no database text can keep it (PostgreSQL refuses it), as the inbox refuses it
        raise FetchError("the document holds a NUL character")
    return document


def _holds_nul(document: Any) -> bool:
    """Whether a string of ``document``, or a key, holds a NUL character (walked without recursion)."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and "\x00" in node:
            return True
        if isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False
