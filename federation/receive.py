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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urldefrag, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation import policy, proofs
from federation.client import FederationClient
from federation.httpsig import SignatureError, signature_key_id, verify_request
from federation.jsonld import id_of
from federation.remote import RemoteError, actor_for_key, is_stale, known_actor, refetch_for_rotation
from instance.models import InboxItem, RemoteActor

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


def parse_activity(body: bytes) -> dict[str, Any]:
    try:
        activity = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise Refused(400, "the body is not JSON") from error
    if not isinstance(activity, dict):
        raise Refused(400, "the body is not a JSON object")
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
        await policy.check_url(db, client.settings, url)
    except policy.DomainRefused as error:
        raise Refused(403, f"domain refused: {error.reason}") from error


async def _signer(db: AsyncSession, client: FederationClient, key_id: str) -> RemoteActor:
    """The actor of ``key_id``: from the cache when fresh, else fetched (a few requests at a time)."""
    cached: RemoteActor | None = await db.scalar(select(RemoteActor).where(RemoteActor.key_id == key_id))
    try:
        if cached is not None and not is_stale(cached):
            return cached
        await db.commit()  # give the connection back while waiting for a turn
        async with client.key_fetches:
            return await actor_for_key(db, client, key_id)
    except RemoteError as error:
        raise Refused(401, f"the key cannot be fetched: {error.reason}") from error


async def _verify_signature(db: AsyncSession, client: FederationClient, incoming: Incoming, key_id: str) -> RemoteActor:
    actor = await _signer(db, client, key_id)
    try:
        verify_request(incoming.method, incoming.url, incoming.headers, incoming.body, actor.public_key_pem)
        return actor
    except SignatureError as error:
        if not error.reason.startswith(_KEY_FAILURES):
            raise Refused(401, error.reason) from error
        failure = error
    await db.commit()  # keeps an actor fetched just now, and gives the connection back while waiting
    try:
        async with client.key_fetches:
            await db.refresh(actor)
            fresh = await refetch_for_rotation(db, client, actor)
    except RemoteError as error:
        raise Refused(401, f"{failure.reason}; refetching the key failed: {error.reason}") from error
    if fresh is None or fresh.key_id != key_id:
        raise Refused(401, failure.reason)
    try:
        verify_request(incoming.method, incoming.url, incoming.headers, incoming.body, fresh.public_key_pem)
    except SignatureError as error:
        raise Refused(401, error.reason) from error
    return fresh


def is_self_delete(activity: dict[str, Any]) -> bool:
    """A ``Delete`` whose object is its own actor (an IRI or an embedded object such as a ``Tombstone``)."""
    return activity.get("type") == "Delete" and id_of(activity.get("object")) == id_of(activity.get("actor"))


def _verify_cached(incoming: Incoming, actor: RemoteActor) -> RemoteActor:
    """Verify with the key cached for ``actor``, without fetching it again (401 if it does not verify)."""
    try:
        verify_request(incoming.method, incoming.url, incoming.headers, incoming.body, actor.public_key_pem)
    except SignatureError as error:
        raise Refused(401, error.reason) from error
    return actor


def _verify_proof(activity: dict[str, Any], actor: RemoteActor) -> None:
    if "proof" not in activity:
        return
    try:
        method = proofs.verification_method(activity)
        key = proofs.assertion_key({"id": actor.uri, "assertionMethod": actor.assertion_methods}, method)
        proofs.verify(activity, key)
    except proofs.ProofError as error:
        raise Refused(401, f"proof: {error.reason}") from error


async def receive(db: AsyncSession, client: FederationClient, incoming: Incoming) -> bool:
    """Check and store an incoming activity; True when stored, False for a known activity (both answer 202).

    Raises :class:`Refused` with the status to answer. Commits what it stores.
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
            actor = await _verify_signature(db, client, incoming, key_id)
    else:
        actor = await _verify_signature(db, client, incoming, key_id)
    await db.commit()  # keep the fetched actor even if the activity is refused below
    if actor.uri != actor_id:
        raise Refused(401, "the key's owner is not the activity's actor")
    if origin(activity["id"]) != origin(actor.uri):
        raise Refused(403, "the activity id is not on the actor's origin")
    _verify_proof(activity, actor)
    return await store(db, activity, actor_id, incoming.recipient)


async def store(db: AsyncSession, activity: dict[str, Any], actor_id: str, recipient: str) -> bool:
    """Store the activity once: a second copy (sent again, or meanwhile by another request) breaks the unique
    activity id and changes nothing."""
    db.add(
        InboxItem(
            activity_id=activity["id"],
            activity_type=str(activity["type"])[:64],
            actor_uri=actor_id,
            recipient=recipient,
            body=activity,
        )
    )
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        return False
    return True
