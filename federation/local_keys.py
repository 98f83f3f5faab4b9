"""The key pairs of local actors: created on first need (race-safe), then read and opened for signing.

A request for an actor's document and, later, an outgoing signature both call :func:`actor_key`; the first call
generates RSA-2048 and Ed25519 pairs off the event loop and inserts them inside a savepoint. Two calls at once
both try, the unique ``owner`` lets one win, and the loser reads the winner's row. Private keys are sealed with
the instance secret and bound to their key id; nothing here logs key material.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from federation import proofs, urls
from federation.keys import (
    generate_ed25519,
    generate_rsa,
    load_ed25519_private,
    load_rsa_private,
    open_private_key,
    seal_private_key,
)
from instance.models import Association, User
from instance.models.federation import INSTANCE_OWNER, ActorKey, association_owner, user_owner
from instance.settings import Settings


@dataclass(frozen=True)
class Owner:
    """Whose keys: the instance actor, a volunteer or an association, with its actor id."""

    owner: str
    actor_id: str
    user_id: int | None = None
    association_id: int | None = None


def instance_owner(settings: Settings) -> Owner:
    return Owner(INSTANCE_OWNER, urls.instance_actor(settings))


def owner_of(settings: Settings, subject: User | Association) -> Owner:
    """The key owner of a local volunteer or association."""
    if isinstance(subject, User):
        return Owner(user_owner(subject.id), urls.user_actor(settings, subject.handle), user_id=subject.id)
    return Owner(
        association_owner(subject.id),
        urls.association_actor(settings, subject.handle),
        association_id=subject.id,
    )


def _new_row(settings: Settings, owner: Owner) -> ActorKey:
    """Generate both key pairs (CPU-bound: run it in a thread) and seal their private halves."""
    rsa_pair, ed_pair = generate_rsa(), generate_ed25519()
    rsa_id, ed_id = urls.main_key(owner.actor_id), urls.ed25519_key(owner.actor_id)
    secret = settings.secret_key
    return ActorKey(
        owner=owner.owner,
        user_id=owner.user_id,
        association_id=owner.association_id,
        rsa_key_id=rsa_id,
        rsa_public_pem=rsa_pair.public,
        rsa_private_sealed=seal_private_key(rsa_pair.private_pem, secret, rsa_id),
        ed25519_key_id=ed_id,
        ed25519_public_multibase=ed_pair.public,
        ed25519_private_sealed=seal_private_key(ed_pair.private_pem, secret, ed_id),
    )


async def _find(db: AsyncSession, owner: Owner) -> ActorKey | None:
    found: ActorKey | None = await db.scalar(select(ActorKey).where(ActorKey.owner == owner.owner))
    return found


async def actor_key(db: AsyncSession, settings: Settings, owner: Owner) -> ActorKey:
    """The owner's key row, created (and flushed in a savepoint) when it does not exist yet.

    The caller commits: a created row is kept only if the caller's transaction commits.
    """
    found = await _find(db, owner)
    if found is not None:
        return found
    row = await asyncio.to_thread(_new_row, settings, owner)
    try:
        async with db.begin_nested():
            db.add(row)
    except IntegrityError:
        found = await _find(db, owner)
        if found is None:  # the conflict was not on the owner: let it show
            raise
        return found
    return row


@dataclass(frozen=True)
class SigningKeys:
    """An actor's opened private keys with their key ids, for HTTP signatures and proofs. Not for logging."""

    rsa_key_id: str
    rsa: rsa.RSAPrivateKey
    ed25519_key_id: str
    ed25519: ed25519.Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"<SigningKeys {self.rsa_key_id}>"


def open_keys(settings: Settings, row: ActorKey) -> SigningKeys:
    """Open the sealed private keys of ``row`` with the instance secret (``KeyFormatError`` if they don't)."""
    secret = settings.secret_key
    return SigningKeys(
        rsa_key_id=row.rsa_key_id,
        rsa=load_rsa_private(open_private_key(row.rsa_private_sealed, secret, row.rsa_key_id)),
        ed25519_key_id=row.ed25519_key_id,
        ed25519=load_ed25519_private(open_private_key(row.ed25519_private_sealed, secret, row.ed25519_key_id)),
    )


async def with_proof(db: AsyncSession, settings: Settings, owner: Owner, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with an ``eddsa-jcs-2022`` proof made with the owner's Ed25519 key (FEP-8b32)."""
    row = await actor_key(db, settings, owner)
    key = load_ed25519_private(open_private_key(row.ed25519_private_sealed, settings.secret_key, row.ed25519_key_id))
    return proofs.sign(document, key, row.ed25519_key_id)
