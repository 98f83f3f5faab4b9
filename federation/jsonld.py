"""Tolerant readers for ActivityStreams 2.0 values parsed as plain JSON.

A property may hold a single value or an array, and an object may be given by its IRI or embedded with an ``id``.
These helpers read all of those shapes the same way; no remote ``@context`` is ever fetched.
"""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[Any]:
    """Return ``value`` as a list: ``None`` gives ``[]``, a list is copied, anything else is wrapped."""
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def id_of(value: Any) -> str | None:
    """Return the IRI of a value: the string itself, or the ``id`` (or ``@id``) of an embedded object."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        for key in ("id", "@id"):
            found = value.get(key)
            if isinstance(found, str) and found:
                return found
    return None


def ids_of(value: Any) -> list[str]:
    """Return the IRIs of every element of a single-or-list value, skipping elements that have none."""
    return [found for found in (id_of(item) for item in as_list(value)) if found is not None]


def first_id(value: Any) -> str | None:
    """Return the IRI of the first element that has one, or ``None``."""
    found = ids_of(value)
    return found[0] if found else None
