"""Cursor pagination: ``limit`` items after an opaque ``cursor``, read with a keyset (never an offset).

A cursor is the sort values of the last item sent, as base64url JSON; clients pass it back untouched. A
list's order is fixed by its ``Keyset``: columns compared as one tuple, all ascending or all descending,
the last one unique (the id), so that rows added or removed between two pages never cause a duplicate.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from instance.errors import ValidationError
from instance.i18n import lazy_gettext

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
T = TypeVar("T")


def invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": lazy_gettext("This cursor is not valid: use the one a page gave.")})


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    text = json.dumps([_plain(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    """The values a cursor holds, each read back as its ``kinds`` type; ValidationError on anything else."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_cursor() from None
    if not isinstance(raw, list) or len(raw) != len(kinds):
        raise invalid_cursor()
    values: list[Any] = []
    for value, kind in zip(raw, kinds, strict=True):
        try:
            if kind is dt.datetime:
                stamp = dt.datetime.fromisoformat(value)
                values.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC))
            elif kind is dt.date:
                values.append(dt.date.fromisoformat(value))
            elif (kind is int and isinstance(value, int) and not isinstance(value, bool)) or (
                kind is str and isinstance(value, str)
            ):
                values.append(value)
            else:
                raise invalid_cursor()
        except (TypeError, ValueError):
            raise invalid_cursor() from None
    return values


@dataclass(frozen=True)
class Keyset:
    """The order of a list: ``columns`` (the last one unique), their Python types, and the direction."""

    columns: tuple[InstrumentedAttribute[Any], ...]
    kinds: tuple[type, ...]
    descending: bool = True

    def order(self, query: Select[Any]) -> Select[Any]:
        return query.order_by(*(c.desc() if self.descending else c.asc() for c in self.columns))

    def after(self, query: Select[Any], cursor: str) -> Select[Any]:
        values = decode_cursor(cursor, self.kinds)
        bound = tuple_(*(literal(v, c.type) for v, c in zip(values, self.columns, strict=True)))
        key = tuple_(*self.columns)
        return query.where(key < bound if self.descending else key > bound)

    def cursor_of(self, row: Any) -> str:
        return encode_cursor([getattr(row, c.key) for c in self.columns])


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


async def keyset_page(db: AsyncSession, query: Select[Any], keyset: Keyset, cursor: str, limit: int) -> Page:
    """One page of the rows of ``query`` (a select of one entity) in the keyset's order."""
    if cursor:
        query = keyset.after(query, cursor)
    rows = list((await db.scalars(keyset.order(query).limit(limit + 1))).unique().all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, keyset.cursor_of(rows[-1]) if more and rows else None)


def list_page(items: Sequence[T], key: Callable[[T], int], cursor: str, limit: int) -> Page:
    """A page of an ordered list already in memory (a few hundred rows at most), by increasing ``key``."""
    ordered = sorted(items, key=key)
    if cursor:
        (last,) = decode_cursor(cursor, (int,))
        ordered = [item for item in ordered if key(item) > last]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return Page(list(chunk), encode_cursor([key(chunk[-1])]) if more and chunk else None)
