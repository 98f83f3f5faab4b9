"""What the domain tells the rest of the software: events published inside the caller's transaction.

Services that change something another instance must hear of (a membership in a remote association decided, an
entry of a remote volunteer approved, ...) call :func:`publish`. The federation layer installs a publisher on the
session factory (``info={"publisher": ...}``); it turns each event into activities queued in the same
transaction, so an event is sent if and only if the change commits. Without a publisher (tests of the domain
alone, command-line tools that don't federate) events are dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class MembershipRequested:
    """A local volunteer asked to join a remote association."""

    membership_id: int


@dataclass(frozen=True)
class MembershipDecided:
    """A manager accepted or refused a remote person's request (``accepted``), or removed them."""

    association_id: int
    user_id: int
    accepted: bool


@dataclass(frozen=True)
class MembershipLeft:
    """A local volunteer left (or withdrew their request to) a remote association."""

    association_id: int
    user_id: int


@dataclass(frozen=True)
class EntryChanged:
    """A local volunteer created, edited or withdrew an entry for a remote association (``kind``: create,
    update or delete)."""

    entry_id: int
    kind: str


@dataclass(frozen=True)
class EntryDecided:
    """A manager approved or rejected (``reason``) the entry of a remote volunteer."""

    entry_id: int


@dataclass(frozen=True)
class NewsPublished:
    """An association published a news note."""

    news_id: int


@dataclass(frozen=True)
class AssociationChanged:
    """A local association's profile or catalog changed: its followers elsewhere refresh their copy."""

    association_id: int


@dataclass(frozen=True)
class AccountDeleted:
    """A volunteer deletes their account (published before anything is erased); ``withdraw`` is their choice
    for the entries they logged."""

    user_id: int
    withdraw: bool


Event = (
    AssociationChanged
    | AccountDeleted
    | NewsPublished
    | MembershipRequested
    | MembershipDecided
    | MembershipLeft
    | EntryChanged
    | EntryDecided
)
Publisher = Callable[[AsyncSession, Event], Awaitable[None]]


async def publish(db: AsyncSession, event: Event) -> None:
    """Hand ``event`` to the session's publisher, if one is installed."""
    publisher: Publisher | None = db.info.get("publisher")
    if publisher is not None:
        await publisher(db, event)
