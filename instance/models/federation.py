"""Federation state kept in the database: local actors' keys, remote actors and domains, inbound activities,
outbound deliveries and follows. Each federated side effect is a row with one ``state`` column."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow

INSTANCE_OWNER = "instance"
DELETED_KIND = "deleted"  # ``deleted:<random>``: the keys of a deleted account while its last activities go out


def user_owner(user_id: int) -> str:
    """The ``owner`` value of a volunteer's keys."""
    return f"user:{user_id}"


def association_owner(association_id: int) -> str:
    """The ``owner`` value of an association's keys."""
    return f"association:{association_id}"


class ActorKey(Base):
    """The two key pairs of one local actor: RSA-2048 (HTTP signatures) and Ed25519 (Data Integrity proofs).

    ``owner`` is unique (``instance``, ``user:ID`` or ``association:ID``), so two requests that create the keys at
    once end with one row. Private keys are sealed with the instance secret, bound to their key id (kept here, so
    they open even if the public URL changes). The foreign keys only remove the row with its owner.
    """

    __tablename__ = "actor_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True)
    association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="CASCADE"), default=None, index=True
    )
    rsa_key_id: Mapped[str] = mapped_column(String(500))
    rsa_public_pem: Mapped[str] = mapped_column(Text)
    rsa_private_sealed: Mapped[str] = mapped_column(Text)
    ed25519_key_id: Mapped[str] = mapped_column(String(500))
    ed25519_public_multibase: Mapped[str] = mapped_column(String(100))
    ed25519_private_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never show key material, even sealed
        return f"<ActorKey {self.id} {self.owner}>"


# -- remote actors and domains ------------------------------------------------------------------------------


class RemoteActor(Base):
    """A cached copy of a remote ActivityPub actor: where to deliver, and the keys that check its signatures.

    ``fetched_at`` says when the document was read (refetched after a day); ``key_refetched_at`` when it was last
    refetched because a signature did not verify (at most once per few minutes, for key rotation).
    """

    __tablename__ = "remote_actors"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(500), unique=True)
    domain: Mapped[str] = mapped_column(String(255), index=True)
    actor_type: Mapped[str] = mapped_column(String(32), default="Person")
    inbox: Mapped[str] = mapped_column(String(500))
    shared_inbox: Mapped[str] = mapped_column(String(500), default="")
    key_id: Mapped[str] = mapped_column(String(500), default="", index=True)
    public_key_pem: Mapped[str] = mapped_column(Text, default="")
    assertion_methods: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    name: Mapped[str] = mapped_column(String(300), default="")
    preferred_username: Mapped[str] = mapped_column(String(300), default="")
    manually_approves: Mapped[bool] = mapped_column(default=False)
    url: Mapped[str] = mapped_column(String(500), default="")
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    # an association's catalog collection
    catalog: Mapped[str] = mapped_column(String(500), default="", server_default="")
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    key_refetched_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # suspended by an admin: its activities are refused (403) and nothing is delivered to it
    suspended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    suspension_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    @property
    def handle(self) -> str:
        """``@name@domain``, or the URI when the actor has no ``preferredUsername``."""
        return f"@{self.preferred_username}@{self.domain}" if self.preferred_username else self.uri

    @property
    def delivery_inbox(self) -> str:
        """Where to deliver: the shared inbox when there is one (deliveries to one server are folded)."""
        return self.shared_inbox or self.inbox


class FederatedDomain(Base):
    """What this instance knows and decides about another server: block, allow, and delivery health.

    ``failing_since`` is the first failure after the last success; a domain failing for a week gets
    ``unavailable_since`` and its deliveries wait (probed once a day) until it answers again.
    """

    __tablename__ = "federated_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    software: Mapped[str] = mapped_column(String(100), default="")
    software_version: Mapped[str] = mapped_column(String(100), default="", server_default="")
    nodeinfo_checked_at: Mapped[dt.datetime | None] = mapped_column(default=None)  # last NodeInfo read (or try)
    blocked: Mapped[bool] = mapped_column(default=False)
    allowed: Mapped[bool] = mapped_column(default=False)  # used when the instance federates with an allow-list
    reason: Mapped[str] = mapped_column(Text, default="")
    last_success_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    failing_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    unavailable_since: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# -- inbound activities --------------------------------------------------------------------------------------


class InboxState(enum.StrEnum):
    RECEIVED = "received"  # verified and stored, waiting for the worker
    PROCESSED = "processed"
    IGNORED = "ignored"  # an activity this software does not handle
    FAILED = "failed"  # the handler kept failing; ``last_error`` says why


class InboxItem(Base):
    """A verified incoming activity, stored raw before the inbox answers 202, then handled by the worker."""

    __tablename__ = "inbox_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(500), unique=True)
    activity_type: Mapped[str] = mapped_column(String(64))
    actor_uri: Mapped[str] = mapped_column(String(500), index=True)
    recipient: Mapped[str] = mapped_column(String(500), default="")  # the inbox path it was posted to
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[InboxState] = mapped_column(
        Enum(InboxState, native_enum=False, length=16), default=InboxState.RECEIVED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_inbox_items_state_next", "state", "next_attempt_at"),)


# -- outbound deliveries -------------------------------------------------------------------------------------


class DeliveryState(enum.StrEnum):
    PENDING = "pending"  # to send (again) at ``next_attempt_at``
    SENT = "sent"
    FAILED = "failed"  # final: refused by the receiver, blocked, or out of attempts


class Delivery(Base):
    """One activity to POST to one inbox, signed by a local actor (``signer`` is an ``ActorKey.owner``)."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(500))
    inbox: Mapped[str] = mapped_column(String(500))
    domain: Mapped[str] = mapped_column(String(255), index=True)
    signer: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON sent
    state: Mapped[DeliveryState] = mapped_column(
        Enum(DeliveryState, native_enum=False, length=16), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("activity_id", "inbox"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
    )


class DeletedObject(Base):
    """The id of a remote object deleted by its owner, so that a late ``Create`` or ``Update`` of it (deliveries
    may arrive out of order) does not bring it back."""

    __tablename__ = "deleted_objects"

    id: Mapped[int] = mapped_column(primary_key=True)
    uri: Mapped[str] = mapped_column(String(500), unique=True)
    deleted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# -- follows -------------------------------------------------------------------------------------------------


class FollowState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # refused, or removed by the followed association


class Follow(Base):
    """A Follow over federation: a remote actor following a local association, or a local volunteer
    following a remote association. Both actor ids are always set; ``user_id`` / ``association_id`` name the
    local side. ``activity_id`` is the id of the latest Follow activity for the pair.
    """

    __tablename__ = "follows"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[str] = mapped_column(String(500), unique=True)
    follower_uri: Mapped[str] = mapped_column(String(500))
    followed_uri: Mapped[str] = mapped_column(String(500), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True)
    association_id: Mapped[int | None] = mapped_column(
        ForeignKey("associations.id", ondelete="CASCADE"), default=None, index=True
    )
    state: Mapped[FollowState] = mapped_column(
        Enum(FollowState, native_enum=False, length=16), default=FollowState.PENDING
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    __table_args__ = (UniqueConstraint("follower_uri", "followed_uri"),)
