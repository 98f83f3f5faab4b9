"""Helpers of the attack tests (inbox fuzzing, forgeries, web security): what a database holds, compared before and
after an attempt, and signed POSTs through one reusable client."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import func, select, text

from federation.httpsig import sign_request
from federation.local_keys import SigningKeys
from instance.models import Base
from instance.runtime import Instance

AP = "application/activity+json"

# the tables whose whole content an attempt must leave as it was (besides the row counts of every table)
WATCHED = (
    "users",
    "associations",
    "memberships",
    "roles",
    "time_entries",
    "follows",
    "news",
    "categories",
    "deleted_objects",
)


async def table_counts(instance: Instance, names: tuple[str, ...] | None = None) -> dict[str, int]:
    """The number of rows of every table (or of the ``names`` tables), read in one query."""
    tables = [t for t in Base.metadata.sorted_tables if names is None or t.name in names]
    query = select(*[select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables])
    async with instance.engine.connect() as connection:
        row = (await connection.execute(query)).one()
    return {table.name: int(value) for table, value in zip(tables, row, strict=True)}


async def contents(instance: Instance, names: tuple[str, ...] = WATCHED) -> dict[str, list[str]]:
    """The rows of the ``names`` tables, each as a sorted list of text lines (to compare two moments)."""
    found: dict[str, list[str]] = {}
    async with instance.engine.connect() as connection:
        for name in names:
            rows = (await connection.execute(text(f"SELECT * FROM {name}"))).all()  # noqa: S608  # our own names
            found[name] = sorted(json.dumps([str(value) for value in row]) for row in rows)
    return found


def signed_headers(url: str, body: bytes, keys: SigningKeys | None, content_type: str = AP) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    if keys is None:
        return headers
    return sign_request("POST", url, headers, body, keys.rsa_key_id, keys.rsa)


async def post_body(
    http: httpx.AsyncClient, path: str, body: bytes, keys: SigningKeys | None, content_type: str = AP
) -> httpx.Response:
    """POST ``body`` to ``path`` with ``http`` (whose base URL is the instance's), signed with ``keys`` if given."""
    url = str(http.base_url).rstrip("/") + path
    return await http.post(path, content=body, headers=signed_headers(url, body, keys, content_type))


def as_json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8")
