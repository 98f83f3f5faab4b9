"""The checks an inbox makes before it stores an activity (PROTOCOL.md, "Rules every inbox enforces").

In order, once the web layer has capped the size and checked the content type: a JSON object with an ``id``,
a ``type`` and an ``actor`` (400); the actor's and the key's domains allowed (403, before any key is fetched);
a signature (401); the key fetched and the signature verified, after at most one rate-limited refetch of the
actor for key rotation (401); the key's owner is the ``actor`` (401); the activity id on the actor's origin
(403); a ``proof``, when present, verified against the actor's ``assertionMethod`` keys (401). A known activity
id answers 202 and changes nothing; otherwise the raw activity is stored as an ``InboxItem`` and the answer is 202.

An actor that deletes itself can usually no longer serve its key (410 Gone or 404). As Mastodon does, such a
``Delete`` from an actor we never knew answers 202 at once, fetching nothing and storing nothing (servers send it
to every instance they ever talked to); from an actor we know, it is verified with the key we cached, without
fetching it again, and stored, and the worker then forgets the actor's follows and cached document.

For speed, the domain policy comes from the client's ``PolicyCache``, verified keys from a ``SignerCache``
(``federation.remote``) and the rows of concurrent requests are stored together by an :class:`InboxWriter`;
none of them changes what is refused or accepted (docs/performance.md, "Inbox").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urlsplit

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from federation import policy, proofs
from federation.client import FederationClient
from federation.httpsig import SignatureError, signature_key_id, verify_request
from federation.httpsig_common import PublicKey
from federation.jsonld import id_of
from federation.remote import (
    RemoteError,
    Signer,
    SignerCache,
    actor_for_key,
    is_stale,
    known_actor,
    refetch_for_rotation,
)
from instance.models import InboxItem, InboxState, RemoteActor, utcnow

_KEY_FAILURES = ("signature does not verify with the key", "unusable public key")


class Refused(Exception):
    """The inbox refuses the request: ``status`` is the HTTP answer, ``reason`` a short English explanation."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Incoming:
    """A POST to an inbox: ``url`` is this server's public URL for it (raw path and query)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    recipient: str


MAX_DEPTH = 64  # real activities nest a few levels; deeper ones only tie up the parser and the stack


def _unusable(value: Any) -> str:
    """Why ``value`` cannot be kept, walked without recursion: objects and arrays nested more than
    :data:`MAX_DEPTH` levels, or a NUL character (no database text holds one); empty when it can."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if any("\x00" in key for key in node):
                return "the body holds a NUL character"
            children = list(node.values())
        else:
            children = node
        for child in children:
            if isinstance(child, str) and "\x00" in child:
                return "the body holds a NUL character"
            if isinstance(child, dict | list):
                if depth + 1 > MAX_DEPTH:
                    return "the body is nested too deeply"
                stack.append((child, depth + 1))
    return ""


def parse_activity(body: bytes) -> dict[str, Any]:
    try:
        activity = json.loads(body)
    except RecursionError as error:
        raise Refused(400, "the body is nested too deeply") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise Refused(400, "the body is not JSON") from error
    if not isinstance(activity, dict):
        raise Refused(400, "the body is not a JSON object")
    reason = _unusable(activity)
    if reason:
        raise Refused(400, reason)
    if not isinstance(activity.get("id"), str) or not activity["id"]:
        raise Refused(400, "the activity has no id")
    if len(activity["id"]) > 500:
        raise Refused(400, "the activity id is too long")
    if not isinstance(activity.get("type"), str):
        raise Refused(400, "the activity has no type")
    actor = id_of(activity.get("actor"))
    if actor is None or len(actor) > 500:
        raise Refused(400, "the activity has no usable actor")
    return activity


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


async def _allowed(db: AsyncSession, client: FederationClient, url: str) -> None:
    try:
        await client.policy.check_url(db, url)
    except policy.DomainRefused as error:
        raise Refused(403, f"domain refused: {error.reason}") from error


async def _signer(db: AsyncSession, client: FederationClient, key_id: str, signers: SignerCache | None) -> Signer:
    """The signer of ``key_id``: from memory, else from the cache table when fresh, else fetched (a few requests
    at a time)."""
    found = signers.get(key_id) if signers is not None else None
    if found is not None:
        return found
    cached: RemoteActor | None = await db.scalar(select(RemoteActor).where(RemoteActor.key_id == key_id))
    try:
        if cached is None or is_stale(cached):
            await db.commit()  # give the connection back while waiting for a turn and for the fetch
            async with client.key_fetches:
                cached = await actor_for_key(db, client, key_id)
    except RemoteError as error:
        raise Refused(401, f"the key cannot be fetched: {error.reason}") from error
    found = Signer.of(cached)
    if signers is not None:
        signers.put(found)
    return found


def _verifies(incoming: Incoming, key: str | PublicKey) -> SignatureError | None:
    """None when the request's signature verifies with ``key``, else why not."""
    try:
        verify_request(incoming.method, incoming.url, incoming.headers, incoming.body, key)
    except SignatureError as error:
        return error
    return None


async def _verify_signature(
    db: AsyncSession, client: FederationClient, incoming: Incoming, key_id: str, signers: SignerCache | None
) -> Signer:
    signer = await _signer(db, client, key_id, signers)
    failure = _verifies(incoming, signer.key)
    if failure is None:
        return signer
    if not failure.reason.startswith(_KEY_FAILURES):
        raise Refused(401, failure.reason)
    if signers is not None:
        signers.forget(key_id)
    await db.commit()  # keeps an actor fetched just now, and gives the connection back while waiting
    try:
        async with client.key_fetches:
            actor = await db.scalar(select(RemoteActor).where(RemoteActor.key_id == key_id))
            if actor is None:
                raise Refused(401, failure.reason)
            if actor.public_key_pem != signer.pem and _verifies(incoming, actor.public_key_pem) is None:
                return _remember(Signer.of(actor), signers)  # refetched meanwhile by another request or process
            fresh = await refetch_for_rotation(db, client, actor)
    except RemoteError as error:
        raise Refused(401, f"{failure.reason}; refetching the key failed: {error.reason}") from error
    if fresh is None or fresh.key_id != key_id:
        raise Refused(401, failure.reason)
    rotated = Signer.of(fresh)
    still = _verifies(incoming, rotated.key)
    if still is not None:
        raise Refused(401, still.reason)
    return _remember(rotated, signers)


def _remember(signer: Signer, signers: SignerCache | None) -> Signer:
    if signers is not None:
        signers.put(signer)
    return signer


def is_self_delete(activity: dict[str, Any]) -> bool:
    """A ``Delete`` whose object is its own actor (an IRI or an embedded object such as a ``Tombstone``)."""
    return activity.get("type") == "Delete" and id_of(activity.get("object")) == id_of(activity.get("actor"))


def _verify_cached(incoming: Incoming, actor: RemoteActor) -> Signer:
    """Verify with the key cached for ``actor``, without fetching it again (401 if it does not verify)."""
    error = _verifies(incoming, actor.public_key_pem)
    if error is not None:
        raise Refused(401, error.reason)
    return Signer.of(actor)


def _verify_proof(activity: dict[str, Any], signer: Signer) -> None:
    if "proof" not in activity:
        return
    try:
        method = proofs.verification_method(activity)
        key = proofs.assertion_key({"id": signer.uri, "assertionMethod": signer.assertion_methods}, method)
        proofs.verify(activity, key)
    except proofs.ProofError as error:
        raise Refused(401, f"proof: {error.reason}") from error


async def receive(
    db: AsyncSession,
    client: FederationClient,
    incoming: Incoming,
    signers: SignerCache | None = None,
    writer: InboxWriter | None = None,
) -> bool:
    """Check and store an incoming activity; True when stored, False for a known activity (both answer 202).

    ``signers`` keeps verified keys in memory between requests; ``writer`` stores the activity together with
    those of concurrent requests (else it is stored through ``db``). Raises :class:`Refused` with the status to
    answer. Commits what it stores.
    """
    activity = parse_activity(incoming.body)
    actor_id = str(id_of(activity["actor"]))
    await _allowed(db, client, actor_id)
    try:
        key_id = signature_key_id(incoming.headers)
    except SignatureError as error:
        raise Refused(401, error.reason) from error
    if urldefrag(key_id).url != actor_id:
        await _allowed(db, client, key_id)
    if is_self_delete(activity):
        known = await known_actor(db, actor_id)
        if known is None:
            return False  # an actor we never knew is gone: nothing to forget, nothing to fetch
        if known.key_id == key_id:
            actor = _verify_cached(incoming, known)
        else:
            actor = await _verify_signature(db, client, incoming, key_id, signers)
    else:
        actor = await _verify_signature(db, client, incoming, key_id, signers)
    if db.in_transaction():
        await db.commit()  # keep the fetched actor even if the activity is refused below
    if actor.uri != actor_id:
        raise Refused(401, "the key's owner is not the activity's actor")
    if origin(activity["id"]) != origin(actor.uri):
        raise Refused(403, "the activity id is not on the actor's origin")
    _verify_proof(activity, actor)
    if writer is not None:
        return await writer.store(activity, actor_id, incoming.recipient)
    return await store(db, activity, actor_id, incoming.recipient)


def _row(activity: dict[str, Any], actor_id: str, recipient: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "activity_id": activity["id"],
        "activity_type": str(activity["type"])[:64],
        "actor_uri": actor_id,
        "recipient": recipient,
        "body": activity,
        "state": InboxState.RECEIVED,
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
        "last_error": "",
    }


async def store(db: AsyncSession, activity: dict[str, Any], actor_id: str, recipient: str) -> bool:
    """Store the activity once: a second copy (sent again, or meanwhile by another request) breaks the unique
    activity id and changes nothing."""
    db.add(InboxItem(**_row(activity, actor_id, recipient)))
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        return False
    return True


class InboxWriter:
    """Stores the activities of concurrent inbox requests together (group commit).

    A request hands its row over and waits; one writer task inserts every row waiting at that moment in a single
    statement and one commit, then answers each request: True when its row was stored, False when its activity
    id was already known (stored before, or earlier in the same batch). Rows that arrive while a batch is being
    written make the next batch, so a lone request waits for one commit only. A request is never answered
    before its row is committed; if a batch fails, its rows are written one by one, and only a row that still
    fails makes its request fail.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], size: int = 500) -> None:
        self.sessions = sessions
        self.size = size
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def store(self, activity: dict[str, Any], actor_id: str, recipient: str) -> bool:
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((_row(activity, actor_id, recipient), answer))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_all())
        return await answer

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.size], self._waiting[self.size :]
            try:
                stored = await self._write([row for row, _answer in batch])
            except Exception as error:  # one bad row must not fail the others: write them one by one
                if len(batch) == 1:
                    self._answer(batch, error=error)
                else:
                    for one in batch:
                        await self._write_alone(one)
                continue
            self._answer(batch, stored=stored)

    async def _write_alone(self, waiting: tuple[dict[str, Any], asyncio.Future[bool]]) -> None:
        try:
            stored = await self._write([waiting[0]])
        except Exception as error:  # this request answers the failure (500), never a 202
            self._answer([waiting], error=error)
        else:
            self._answer([waiting], stored=stored)

    @staticmethod
    def _answer(
        batch: list[tuple[dict[str, Any], asyncio.Future[bool]]],
        *,
        stored: dict[str, bool] | None = None,
        error: Exception | None = None,
    ) -> None:
        for row, answer in batch:
            if answer.done():
                continue
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result((stored or {}).pop(row["activity_id"], False))

    async def _write(self, rows: list[dict[str, Any]]) -> dict[str, bool]:
        """Insert the rows whose activity id is new; the ids inserted, each mapped to True (once)."""
        unique = list({row["activity_id"]: row for row in reversed(rows)}.values())
        table: Table = InboxItem.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
        async with self.sessions() as db:
            connection = await db.connection()
            insert = sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert
            statement = (
                insert(table).on_conflict_do_nothing(index_elements=["activity_id"]).returning(table.c.activity_id)
            )
            inserted = (await connection.execute(statement, unique)).scalars().all()
            await db.commit()
        return dict.fromkeys(inserted, True)
