"""Remote actors: found by URL, by key id or by ``@handle@host`` (WebFinger), fetched signed by the instance
actor, and cached as ``RemoteActor`` rows.

A cached actor is read again after a day. When a signature does not verify with the cached key, the actor may be
refetched once (key rotation), at most once per five minutes per actor. An actor's inbox and shared inbox must be
on its own host, so a document cannot send our deliveries to another server. Fetch before writing: the client
opens its own sessions (SQLite allows one writer at a time).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urldefrag, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation.client import FederationClient, FetchError
from federation.html_text import to_text
from federation.httpsig_common import PublicKey
from federation.jsonld import as_list, id_of
from federation.keys import KeyFormatError, load_public_pem
from federation.local_keys import instance_owner
from federation.policy import domain_of
from instance.models import RemoteActor, utcnow

STALE_AFTER = dt.timedelta(days=1)
SIGNER_CACHE_SECONDS = 60.0
SIGNER_CACHE_SIZE = 4096
KEY_REFETCH_INTERVAL = dt.timedelta(minutes=5)
ACTOR_TYPES = frozenset({"Person", "Group", "Application", "Service", "Organization"})


class RemoteError(Exception):
    """A remote actor could not be found or its document is unusable; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _same_host(url: Any, host: str) -> str:
    if not isinstance(url, str) or not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() != host:
        raise RemoteError(f"{url} is not on the actor's host")
    return url


def _public_key(document: dict[str, Any], actor_id: str) -> tuple[str, str]:
    for key in as_list(document.get("publicKey")):
        if not isinstance(key, dict) or not isinstance(key.get("publicKeyPem"), str):
            continue
        if key.get("owner", actor_id) == actor_id and isinstance(key.get("id"), str):
            return key["id"], key["publicKeyPem"]
    return "", ""


def _assertion_methods(document: dict[str, Any], actor_id: str) -> list[dict[str, str]]:
    found = []
    for method in as_list(document.get("assertionMethod")):
        if (
            isinstance(method, dict)
            and method.get("type") == "Multikey"
            and method.get("controller") == actor_id
            and isinstance(method.get("id"), str)
            and isinstance(method.get("publicKeyMultibase"), str)
        ):
            found.append({name: method[name] for name in ("id", "type", "controller", "publicKeyMultibase")})
    return found


def parse_actor(document: dict[str, Any]) -> dict[str, Any]:
    """The fields of a ``RemoteActor`` read from an actor document; ``RemoteError`` if it is not usable."""
    actor_id = document.get("id")
    if not isinstance(actor_id, str) or urlsplit(actor_id).scheme not in ("http", "https"):
        raise RemoteError("the actor has no http(s) id")
    kind = document.get("type")
    if not isinstance(kind, str) or kind not in ACTOR_TYPES:
        raise RemoteError(f"{actor_id} is not an actor")
    host = domain_of(actor_id)
    inbox = _same_host(document.get("inbox"), host)
    if not inbox:
        raise RemoteError(f"{actor_id} has no inbox")
    endpoints = document.get("endpoints")
    shared = _same_host(endpoints.get("sharedInbox"), host) if isinstance(endpoints, dict) else ""
    key_id, pem = _public_key(document, actor_id)
    return {
        "uri": actor_id,
        "domain": host,
        "actor_type": kind,
        "inbox": inbox,
        "shared_inbox": shared,
        "key_id": key_id,
        "public_key_pem": pem,
        "assertion_methods": _assertion_methods(document, actor_id),
        "name": _text(document.get("name"), 300),
        "preferred_username": _text(document.get("preferredUsername"), 300),
        "manually_approves": document.get("manuallyApprovesFollowers") is True,
        "url": id_of(document.get("url")) or "",
        "summary": to_text(_text(document.get("summary"), 20000))[:5000],
        "catalog": _same_host(document.get("catalog"), host),
    }


async def _store(db: AsyncSession, fields: dict[str, Any]) -> RemoteActor:
    row: RemoteActor | None = await db.scalar(select(RemoteActor).where(RemoteActor.uri == fields["uri"]))
    if row is None:
        row = RemoteActor(**fields, fetched_at=utcnow())
        try:
            async with db.begin_nested():
                db.add(row)
        except IntegrityError:  # stored meanwhile by another request
            row = await db.scalar(select(RemoteActor).where(RemoteActor.uri == fields["uri"]))
            if row is None:
                raise
        else:
            return row
    for name, value in fields.items():
        setattr(row, name, value)
    row.fetched_at = utcnow()
    await db.flush()
    return row


async def _fetch(client: FederationClient, url: str) -> dict[str, Any]:
    signer = await client.signing_keys(instance_owner(client.settings))
    try:
        return await client.fetch(url, signer)
    except FetchError as error:
        raise RemoteError(error.reason) from error


def is_stale(actor: RemoteActor) -> bool:
    return actor.fetched_at < utcnow() - STALE_AFTER


async def known_actor(db: AsyncSession, uri: str) -> RemoteActor | None:
    found: RemoteActor | None = await db.scalar(select(RemoteActor).where(RemoteActor.uri == uri))
    return found


async def get_actor(db: AsyncSession, client: FederationClient, uri: str, *, refresh: bool = False) -> RemoteActor:
    """The actor at ``uri``, from the cache when fresh, else fetched and stored (the caller commits)."""
    uri = urldefrag(uri).url
    row = await known_actor(db, uri)
    if row is not None and not refresh and not is_stale(row):
        return row
    document = await _fetch(client, uri)
    fields = parse_actor(document)
    if fields["uri"] != uri and row is not None:
        raise RemoteError(f"{uri} now names another actor")
    return await _store(db, fields)


async def actor_for_key(db: AsyncSession, client: FederationClient, key_id: str) -> RemoteActor:
    """The actor that owns the key ``key_id``, fetched (an actor document, or a key with an owner and then the
    owner's document) and stored; the caller commits. Everything is fetched before ``db`` is used, so the session
    holds no connection while waiting on the network when it held none before."""
    document = await _fetch(client, key_id)
    owner = None
    if document.get("type") not in ACTOR_TYPES:
        owner = id_of(document.get("owner"))
        if owner is None:
            raise RemoteError(f"{key_id} is neither an actor nor a key with an owner")
        owner = urldefrag(owner).url
        document = await _fetch(client, owner)
    fields = parse_actor(document)
    if owner is not None and fields["uri"] != owner and await known_actor(db, owner) is not None:
        raise RemoteError(f"{owner} now names another actor")
    row = await _store(db, fields)
    if row.key_id != key_id:
        raise RemoteError(f"{key_id} is not the key of {row.uri}")
    return row


async def refetch_for_rotation(db: AsyncSession, client: FederationClient, actor: RemoteActor) -> RemoteActor | None:
    """Refetch an actor whose key did not verify, unless that was done less than five minutes ago.

    Commits the time of the refetch first, so that requests refused afterwards still count against the limit.
    """
    now = utcnow()
    if actor.key_refetched_at is not None and actor.key_refetched_at > now - KEY_REFETCH_INTERVAL:
        return None
    actor.key_refetched_at = now
    await db.commit()
    fresh = await get_actor(db, client, actor.uri, refresh=True)
    fresh.key_refetched_at = now
    return fresh


def split_handle(text: str) -> tuple[str, str] | None:
    """``@name@host``, ``name@host`` or ``acct:name@host`` -> (name, host); None if it is not one."""
    text = text.strip().removeprefix("acct:").removeprefix("@")
    name, at, host = text.rpartition("@")
    if not at or not name or not host or "@" in name or "/" in text or " " in text:
        return None
    return name, host.lower()


async def webfinger(client: FederationClient, name: str, host: str) -> str:
    """The actor id that ``acct:name@host`` names (its ``self`` link of an ActivityPub type)."""
    resource = quote(f"acct:{name}@{host}", safe=":@")
    schemes = ("https", "http") if client.settings.dev_mode else ("https",)
    error: FetchError | None = None
    for scheme in schemes:
        try:
            document = await client.fetch_jrd(f"{scheme}://{host}/.well-known/webfinger?resource={resource}")
            break
        except FetchError as failed:
            error = failed
    else:
        raise RemoteError(error.reason if error else "WebFinger failed")
    for link in as_list(document.get("links")):
        if not isinstance(link, dict) or link.get("rel") != "self" or not isinstance(link.get("href"), str):
            continue
        kind = str(link.get("type", ""))
        if kind.startswith("application/activity+json") or kind.startswith("application/ld+json"):
            return str(link["href"])
    raise RemoteError(f"acct:{name}@{host} has no ActivityPub actor")


async def find_actor(db: AsyncSession, client: FederationClient, text: str) -> RemoteActor:
    """A remote actor named by its URL or its ``@handle@host``."""
    text = text.strip()
    if text.startswith(("https://", "http://")):
        return await get_actor(db, client, text)
    named = split_handle(text)
    if named is None:
        raise RemoteError("not a handle or a URL")
    actor_id = await webfinger(client, *named)
    return await get_actor(db, client, actor_id)


@dataclass(frozen=True)
class Signer:
    """What the inbox needs of the actor owning a key: its id, the key (loaded once, or the PEM as stored when it
    does not load, so that verifying reports why) and its ``assertionMethod`` keys."""

    uri: str
    key_id: str
    pem: str
    key: str | PublicKey
    assertion_methods: list[dict[str, str]]
    fetched_at: dt.datetime

    @classmethod
    def of(cls, actor: RemoteActor) -> Signer:
        key: str | PublicKey = actor.public_key_pem
        with contextlib.suppress(KeyFormatError):
            key = load_public_pem(actor.public_key_pem)
        return cls(actor.uri, actor.key_id, actor.public_key_pem, key, list(actor.assertion_methods), actor.fetched_at)


class SignerCache:
    """Signers by key id, kept in this process for ``seconds`` (at most ``size`` of them, the least recently used
    go first), so a busy inbox neither reads the ``RemoteActor`` row nor parses the PEM at every request. A key
    replaced in the database by another process is seen after at most ``seconds``; a stale actor (a day old) is
    never answered from here."""

    def __init__(self, seconds: float = SIGNER_CACHE_SECONDS, size: int = SIGNER_CACHE_SIZE) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: OrderedDict[str, tuple[float, Signer]] = OrderedDict()

    def get(self, key_id: str) -> Signer | None:
        entry = self._entries.get(key_id)
        if entry is None:
            return None
        stored_at, signer = entry
        if time.monotonic() - stored_at >= self.seconds or signer.fetched_at < utcnow() - STALE_AFTER:
            del self._entries[key_id]
            return None
        self._entries.move_to_end(key_id)
        return signer

    def put(self, signer: Signer) -> None:
        self._entries[signer.key_id] = (time.monotonic(), signer)
        self._entries.move_to_end(signer.key_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key_id: str) -> None:
        self._entries.pop(key_id, None)
