"""Measure the report pages on a database filled by ``bench/load_entries.py``, through the real app in-process.

    .venv/bin/python bench/stats_and_export.py                     # bench/data/bench.sqlite3, 30 requests
    .venv/bin/python bench/stats_and_export.py --url postgresql+asyncpg://postgres@127.0.0.1/bench --append

- statistics (and valuation) page of the association with the most entries, for the last complete year:
  median, 90th and 95th percentiles of ``--requests`` requests, after two warm-up requests. The statistics read the
  entry summaries, which the loader does not write (it inserts entries past the ORM): they are written anew
  first when they do not count every approved and pending entry;
- exports of every entry of that association (CSV, ODS, XLSX): time, rows, size and the peak RSS of a fresh
  process that did nothing else (each export runs in its own subprocess), next to the RSS before it started.
The body of an export is read chunk by chunk and thrown away, as a client downloading it would.
``--append`` adds the figures, the machine, the date and the command to ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from base64 import b64encode
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import itsdangerous
from sqlalchemy import Connection, event, func, select

from instance.models import (
    Association,
    EntryMonthSummary,
    EntryStatus,
    EntryVolunteerCount,
    EntryVolunteerSummary,
    Membership,
    Role,
    TimeEntry,
    User,
)
from instance.models.summary_upkeep import rebuild_summaries
from instance.settings import Settings
from web.app import SESSION_COOKIE, create_app
from web.auth import session_fingerprint

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = f"sqlite+aiosqlite:///{ROOT / 'bench' / 'data' / 'bench.sqlite3'}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--formats", default="csv,ods,xlsx")
    parser.add_argument("--append", action="store_true", help="append the results to docs/performance.md")
    parser.add_argument(
        "--sqlite-cache-mb",
        type=int,
        default=0,
        help="try a larger SQLite page cache (PRAGMA cache_size) per connection",
    )
    parser.add_argument("--part", choices=("stats", "export"), help=argparse.SUPPRESS)
    parser.add_argument("--format", default="csv", help=argparse.SUPPRESS)
    return parser.parse_args()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Bench:
    def __init__(self, url: str, sqlite_cache_mb: int = 0) -> None:
        settings = Settings(database_url=url, secret_key="bench-secret", base_url="https://bench.test")  # noqa: S106
        self.app = create_app(settings)
        self.instance = self.app.state.instance
        if sqlite_cache_mb and self.instance.engine.dialect.name == "sqlite":

            def cache_size(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute(f"PRAGMA cache_size=-{sqlite_cache_mb * 1024}")
                cursor.close()

            event.listen(self.instance.engine.sync_engine, "connect", cache_size)

    async def target(self) -> tuple[str, str]:
        """The association with the most entries, and a cookie of a manager of it."""
        async with self.instance.sessions() as db:
            count = func.count(TimeEntry.id)
            association_id = (
                await db.execute(
                    select(TimeEntry.association_id, count).group_by(TimeEntry.association_id).order_by(count.desc())
                )
            ).first()[0]
            association = await db.get(Association, association_id)
            manager = await db.scalar(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .join(Role, Role.id == Membership.role_id)
                .where(Membership.association_id == association_id, Role.manage_association.is_(True))
                .limit(1)
            )
            assert association is not None and manager is not None
            data = {"uid": manager.id, "auth": session_fingerprint(self.instance, manager)}
        signer = itsdangerous.TimestampSigner(self.instance.settings.secret_key)
        cookie = signer.sign(b64encode(json.dumps(data).encode())).decode()
        return association.handle, f"{SESSION_COOKIE}={cookie}"

    async def summaries(self) -> float:
        """Write the entry summaries anew unless they count every approved and pending entry already (the
        loader inserts entries past the ORM, whose session events keep them); the seconds it took."""
        started = time.perf_counter()
        async with self.instance.engine.begin() as connection:
            await connection.run_sync(_rebuild)
        return time.perf_counter() - started

    async def stats(self, requests: int) -> dict[str, Any]:
        year = dt.date.today().year - 1
        results: dict[str, Any] = {"year": year, "summaries_s": round(await self.summaries(), 1)}
        async with self.app.router.lifespan_context(self.app):
            handle, cookie = await self.target()
            transport = httpx.ASGITransport(app=self.app)
            headers = {"cookie": cookie, "accept-language": "fr"}
            async with httpx.AsyncClient(transport=transport, base_url="https://bench.test", headers=headers) as http:
                for page in ("statistics", "valuation"):
                    path = f"/associations/{handle}/{page}?year={year}"
                    timings = []
                    for number in range(requests + 2):
                        started = time.perf_counter()
                        response = await http.get(path)
                        elapsed = (time.perf_counter() - started) * 1000
                        assert response.status_code == 200, response.text[:500]
                        if number >= 2:
                            timings.append(elapsed)
                    timings.sort()
                    results[page] = {
                        "median_ms": round(statistics.median(timings), 1),
                        "p90_ms": round(timings[int(len(timings) * 0.9) - 1], 1),
                        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
                        "min_ms": round(timings[0], 1),
                    }
            async with self.instance.sessions() as db:
                association = await db.scalar(select(Association).where(Association.handle == handle))
                assert association is not None
                results["association_entries"] = await db.scalar(
                    select(func.count()).where(TimeEntry.association_id == association.id)
                )
                results["entries_in_year"] = await db.scalar(
                    select(func.count()).where(
                        TimeEntry.association_id == association.id,
                        TimeEntry.start_date.between(dt.date(year, 1, 1), dt.date(year, 12, 31)),
                    )
                )
                results["all_entries"] = await db.scalar(select(func.count()).select_from(TimeEntry))
        return results

    async def export(self, fmt: str) -> dict[str, Any]:
        async with self.app.router.lifespan_context(self.app):
            handle, cookie = await self.target()
            before = rss_mb()
            started = time.perf_counter()
            status, size, lines, first_byte = await self._download(
                f"/associations/{handle}/export.{fmt}", "year=all&status=all", cookie
            )
            elapsed = time.perf_counter() - started
        assert status == 200, status
        result = {"format": fmt, "seconds": round(elapsed, 2), "first_byte_s": round(first_byte - started, 2)}
        result.update({"bytes": size, "rss_before_mb": round(before, 1), "peak_rss_mb": round(rss_mb(), 1)})
        if fmt == "csv":
            result["rows"] = lines - 1
        return result

    async def _download(self, path: str, query: str, cookie: str) -> tuple[int, int, int, float]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"bench.test"), (b"cookie", cookie.encode()), (b"accept-language", b"fr")],
            "client": ("127.0.0.1", 50000),
            "server": ("bench.test", 443),
        }
        state = {"status": 0, "size": 0, "lines": 0, "first": 0.0, "asked": False}

        async def receive() -> MutableMapping[str, Any]:
            if not state["asked"]:
                state["asked"] = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message.get("body"):
                state["first"] = state["first"] or time.perf_counter()
                state["size"] += len(message["body"])
                state["lines"] += message["body"].count(b"\n")

        await self.app(scope, receive, send)
        return int(state["status"]), int(state["size"]), int(state["lines"]), float(state["first"])


def _rebuild(connection: Connection) -> None:
    for model in (EntryMonthSummary, EntryVolunteerSummary, EntryVolunteerCount):
        model.__table__.create(connection, checkfirst=True)  # type: ignore[attr-defined]
    counted = TimeEntry.status.in_([EntryStatus.APPROVED, EntryStatus.PENDING])
    entries = connection.scalar(select(func.count()).select_from(TimeEntry).where(counted))
    summarised = connection.scalar(select(func.coalesce(func.sum(EntryMonthSummary.entries), 0)))
    if entries != summarised:
        rebuild_summaries(connection)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(
            line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
        )
        memory_text = f"{int(memory) / 1024 / 1024:.0f} GiB"
    except OSError:
        memory_text = "?"
    return f"{cpu}, {os.cpu_count()} cores, {memory_text} RAM, Python {platform.python_version()}, {platform.system()}"


def run_part(args: argparse.Namespace, part: str, fmt: str = "csv") -> dict[str, Any]:
    command = [sys.executable, __file__, "--url", args.url, "--part", part, "--format", fmt]
    command += ["--requests", str(args.requests), "--sqlite-cache-mb", str(args.sqlite_cache_mb)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout  # noqa: S603
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def commit() -> str:
    """The checked-out commit, and whether the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return f"{head} with uncommitted changes" if changed else head


def load_text(load: tuple[float, ...]) -> str:
    return f"{' / '.join(f'{x:.1f}' for x in load)} (1 / 5 / 15 min)"


def report(
    args: argparse.Namespace, stats: dict[str, Any], exports: list[dict[str, Any]], load_before: tuple[float, ...]
) -> str:
    database = "PostgreSQL" if args.url.startswith("postgresql") else "SQLite"
    lines = [
        f"### {dt.date.today().isoformat()} · {database} · {stats['all_entries']:,} entries",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- Commit: {commit()}",
        f"- Load average at the start: {load_text(load_before)}; when done: {load_text(os.getloadavg())}",
        f"- Largest association: {stats['association_entries']:,} entries, {stats['entries_in_year']:,} in "
        f"{stats['year']} (the year measured)",
        f"- Entry summaries checked (and written anew from the entries if needed) before measuring: "
        f"{stats['summaries_s']} s",
        "",
        "| Page | Median | 90th percentile | 95th percentile | Fastest |",
        "| --- | --- | --- | --- | --- |",
    ]
    for page in ("statistics", "valuation"):
        figures = stats[page]
        lines.append(
            f"| {page} ({args.requests} requests) | {figures['median_ms']} ms | {figures['p90_ms']} ms | "
            f"{figures['p95_ms']} ms | {figures['min_ms']} ms |"
        )
    lines += ["", "| Export (every entry of the association) | Time | First byte | Size | RSS before → peak |"]
    lines.append("| --- | --- | --- | --- | --- |")
    for item in exports:
        rows = f", {item['rows']:,} rows" if "rows" in item else ""
        lines.append(
            f"| {item['format'].upper()}{rows} | {item['seconds']} s | {item['first_byte_s']} s | "
            f"{item['bytes'] / 1024 / 1024:.1f} MiB | {item['rss_before_mb']} → {item['peak_rss_mb']} MiB |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    if args.part:
        bench = Bench(args.url, args.sqlite_cache_mb)
        result = asyncio.run(bench.stats(args.requests) if args.part == "stats" else bench.export(args.format))
        print(json.dumps(result))
        return
    load_before = os.getloadavg()
    stats = run_part(args, "stats")
    exports = [run_part(args, "export", fmt) for fmt in args.formats.split(",") if fmt]
    text = report(args, stats, exports, load_before)
    print(text)
    if args.append:
        with (ROOT / "docs" / "performance.md").open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)


if __name__ == "__main__":
    main()
