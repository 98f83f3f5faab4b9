"""Handles: the ``@handle@host`` names shared by volunteers and associations, unique per instance."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import Handle

HANDLE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
RESERVED = frozenset(
    {
        "admin",
        "api",
        "about",
        "actor",
        "inbox",
        "outbox",
        "static",
        "users",
        "associations",
        "instance",
        "nodeinfo",
        "well-known",
        "login",
        "logout",
        "register",
        "settings",
        "me",
        "root",
        "postmaster",
        "support",
    }
)


def normalise_handle(value: str) -> str:
    return value.strip().lstrip("@").lower()


async def reserve_handle(db: AsyncSession, value: str, kind: str, field: str = "handle") -> str:
    """Check ``value`` and claim it for a user or an association; ValidationError on ``field`` if not possible."""
    handle = normalise_handle(value)
    if not HANDLE_RE.match(handle):
        raise ValidationError(
            {
                field: lazy_gettext(
                    "Use 1 to 64 lowercase letters, digits, - or _, starting and ending with a letter or digit."
                )
            }
        )
    if handle in RESERVED or handle.isdigit():
        raise ValidationError({field: lazy_gettext("This handle is reserved; please choose another.")})
    if await db.scalar(select(Handle.handle).where(Handle.handle == handle)) is not None:
        raise ValidationError({field: lazy_gettext("This handle is already taken; please choose another.")})
    db.add(Handle(handle=handle, kind=kind))
    await db.flush()
    return handle
