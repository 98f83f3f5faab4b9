"""A ZIP archive streamed while it is made: members are written in turn, and what the zip module has written
so far is handed out after every part, so memory stays flat whatever the size of the archive.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import IO, Any, cast

Member = tuple[str, AsyncIterable[bytes]]


class _Sink:
    """A write-only file whose content is taken out as it comes (the zip module sees it cannot seek)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


async def zip_chunks(members: AsyncIterable[Member]) -> AsyncIterator[bytes]:
    sink = _Sink()
    stamp = dt.datetime.now(dt.UTC).timetuple()[:6]
    with zipfile.ZipFile(cast(IO[bytes], sink), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        async for name, parts in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                async for part in parts:
                    member.write(part)
                    if data := sink.take():
                        yield data
    yield sink.take()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, default=_plain).encode()


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def json_array(batches: AsyncIterable[Iterable[dict[str, Any]]]) -> AsyncIterator[bytes]:
    """A JSON array written batch by batch (one object per line)."""
    first = True
    yield b"["
    async for batch in batches:
        parts = []
        for item in batch:
            parts.append((b"\n" if first else b",\n") + json.dumps(item, ensure_ascii=False, default=_plain).encode())
            first = False
        if parts:
            yield b"".join(parts)
    yield b"\n]\n"
