"""The volunteer's verifiable record: their approved entries of a period, each as the association's signed
``Accept`` (FEP-8b32 ``eddsa-jcs-2022`` proof), with the associations' public keys, in one JSON document.

For an association of another instance, the ``Accept`` is the one it sent. For an association of this instance,
the association signs an ``Accept`` of the entry when the record is made. Anyone can check the record offline
against the keys it carries (:func:`verify_record`), and online against the keys the associations publish
(:func:`published_keys`): a changed duration, date or title breaks the proof of its entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import proofs, urls
from federation import time_entries as wire
from federation.client import FederationClient
from federation.entry_exchange import catalog_refs
from federation.jsonld import as_list, id_of
from federation.keys import KeyFormatError, decode_multikey
from federation.local_keys import actor_key, owner_of, with_proof
from federation.remote import RemoteError, get_actor
from instance.models import Association, RemoteActor, TimeEntry, User
from instance.models.entries import EntryStatus
from instance.models.federation import ActorKey, association_owner
from instance.settings import Settings

RECORD_TYPE = "VolunteerRecord"
MAX_ENTRIES = 5000


@dataclass(frozen=True)
class Checked:
    """One entry of a record and what its check found (``reason`` is empty when it verifies)."""

    entry_id: str
    association: str
    title: str
    start: str
    duration: str
    reason: str

    @property
    def ok(self) -> bool:
        return not self.reason


async def _local_accept(db: AsyncSession, settings: Settings, entry: TimeEntry, user: User) -> dict[str, Any] | None:
    association = await db.get(Association, entry.association_id)
    if association is None:
        return None
    refs = await catalog_refs(db, settings, entry, association)
    document = wire.entry_object(settings, entry, user, association, refs)
    owner = owner_of(settings, association)
    accept = wire.activity(
        "Accept",
        owner.actor_id,
        document["attributedTo"],
        document,
        published=wire.timestamp(entry.decided_at or entry.updated_at),
    )
    return await with_proof(db, settings, owner, accept)


def _key(key_id: str, controller: str, multibase: str) -> dict[str, str]:
    return {"id": key_id, "controller": controller, "publicKeyMultibase": multibase}


async def _key_of(db: AsyncSession, settings: Settings, accept: dict[str, Any]) -> dict[str, str] | None:
    """The public key that signed ``accept``: the local association's, or the remote one's as cached here."""
    association = await db.scalar(select(Association).where(Association.actor_uri == accept.get("actor")))
    if association is None:
        row = await db.scalar(select(ActorKey).where(ActorKey.ed25519_key_id == proofs.verification_method(accept)))
        if row is None or row.association_id is None:
            return None
        return _key(row.ed25519_key_id, str(accept["actor"]), row.ed25519_public_multibase)
    actor = await db.scalar(select(RemoteActor).where(RemoteActor.uri == association.actor_uri))
    method = proofs.verification_method(accept)
    for key in actor.assertion_methods if actor is not None else []:
        if key.get("id") == method:
            return _key(method, association.actor_uri or "", key.get("publicKeyMultibase", ""))
    return None


async def build_record(
    db: AsyncSession, settings: Settings, user: User, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """The record of ``user``'s approved entries that start between ``start`` and ``end`` (inclusive)."""
    rows = await db.scalars(
        select(TimeEntry)
        .where(
            TimeEntry.user_id == user.id,
            TimeEntry.status == EntryStatus.APPROVED,
            TimeEntry.start_date >= start,
            TimeEntry.start_date <= end,
        )
        .order_by(TimeEntry.start_date, TimeEntry.id)
        .limit(MAX_ENTRIES)
    )
    accepts: list[dict[str, Any]] = []
    keys: dict[str, dict[str, str]] = {}
    for entry in rows.all():
        association = await db.get(Association, entry.association_id)
        if association is None:
            continue
        if association.actor_uri is None:
            await actor_key(db, settings, owner_of(settings, association))
            accept = await _local_accept(db, settings, entry, user)
        else:
            accept = entry.accept_record
        if accept is None or "proof" not in accept:
            continue
        key = await _key_of(db, settings, accept)
        if key is not None:
            keys[key["id"]] = key
        accepts.append(accept)
    return {
        "type": RECORD_TYPE,
        "volunteer": urls.user_actor(settings, user.handle),
        "name": user.public_name,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "issuer": urls.instance_actor(settings),
        "generated": wire.timestamp(dt.datetime.now(dt.UTC)),
        "keys": list(keys.values()),
        "entries": accepts,
    }


def _summary(accept: Any) -> tuple[str, str, str, str, str]:
    if not isinstance(accept, dict):
        return ("?", "?", "", "", "")
    target = accept.get("object")
    target = target if isinstance(target, dict) else {}
    name = target.get("name")
    return (
        id_of(target) or "?",
        id_of(accept.get("actor")) or "?",
        name if isinstance(name, str) else "",
        str(target.get("startTime", ""))[:10],
        str(target.get("duration", "")),
    )


def _check(accept: Any, volunteer: str, keys: dict[str, dict[str, str]]) -> str:
    """Why ``accept`` does not verify against ``keys``; empty when it does."""
    if not isinstance(accept, dict) or accept.get("type") != "Accept":
        return "not an Accept"
    target = accept.get("object")
    if not isinstance(target, dict) or target.get("type") != "TimeEntry":
        return "the Accept holds no time entry"
    if wire.author_of(target) != volunteer:
        return "the entry is not the volunteer's"
    try:
        method = proofs.verification_method(accept)
    except proofs.ProofError as error:
        return error.reason
    key = keys.get(method)
    if key is None:
        return "the key that signed it is unknown"
    if key.get("controller") != accept.get("actor"):
        return "the key is not the association's"
    try:
        proofs.verify(accept, decode_multikey(key.get("publicKeyMultibase", "")))
    except KeyFormatError as error:
        return f"unusable key: {error.reason}"
    except proofs.ProofError as error:
        return f"the signature does not match: {error.reason}"
    return ""


def record_keys(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The keys a record carries, by id."""
    found: dict[str, dict[str, str]] = {}
    for key in as_list(record.get("keys")):
        if isinstance(key, dict) and isinstance(key.get("id"), str):
            found[key["id"]] = {name: str(value) for name, value in key.items() if isinstance(value, str)}
    return found


def verify_record(record: Any, keys: dict[str, dict[str, str]] | None = None) -> list[Checked]:
    """Check each entry of ``record`` against ``keys`` (by default, the keys the record carries)."""
    if not isinstance(record, dict) or record.get("type") != RECORD_TYPE:
        raise ValueError("not a volunteer record")
    volunteer = id_of(record.get("volunteer")) or ""
    keys = record_keys(record) if keys is None else keys
    results = []
    for accept in as_list(record.get("entries")):
        entry_id, association, title, start, duration = _summary(accept)
        results.append(Checked(entry_id, association, title, start, duration, _check(accept, volunteer, keys)))
    return results


async def published_keys(
    db: AsyncSession, settings: Settings, client: FederationClient, record: dict[str, Any]
) -> dict[str, dict[str, str]]:
    """The keys the associations named in ``record`` publish now (ours read here, others' fetched), by id."""
    found: dict[str, dict[str, str]] = {}
    prefix = urls.association_actor(settings, "")
    controllers = {id_of(a.get("actor")) for a in as_list(record.get("entries")) if isinstance(a, dict)}
    for controller in sorted(c for c in controllers if c):
        if controller.startswith(prefix):
            handle = controller[len(prefix) :]
            local = await db.scalar(select(Association).where(Association.handle == handle))
            owner = association_owner(local.id) if local is not None and local.actor_uri is None else ""
            row = await db.scalar(select(ActorKey).where(ActorKey.owner == owner))
            if row is not None:
                found[row.ed25519_key_id] = _key(row.ed25519_key_id, controller, row.ed25519_public_multibase)
            continue
        try:
            actor = await get_actor(db, client, controller)
        except RemoteError:
            continue
        for key in actor.assertion_methods:
            if isinstance(key.get("id"), str):
                found[key["id"]] = _key(key["id"], controller, key.get("publicKeyMultibase", ""))
    return found
