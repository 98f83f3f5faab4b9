"""Federation state kept in the database: the key pairs of the local ActivityPub actors."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from instance.models.base import Base, utcnow

INSTANCE_OWNER = "instance"


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
