"""Benchmark: the main pages under 50 concurrent clients against one uvicorn process, and their growth with the data.

    .venv/bin/python bench/pages.py                                   # SQLite, 100,000 entries
    .venv/bin/python bench/pages.py --database postgresql --entries 1000000
    .venv/bin/python bench/pages.py --growth                          # 10,000 and 100,000 entries
    .venv/bin/python bench/pages.py --growth --sizes 10000,100000,1000000 --append

What runs, for each size:

- ``bench/load_entries.py`` fills the database (200 associations, 20,000 volunteers, 3 years; it empties it
  first), then the entry summaries are written from the entries (the loader bypasses the ORM that keeps them);
- the manager of the association with the most entries gets a password, and the bench logs in through the
  login form (CSRF token, POST) to get a session cookie, as a browser would;
- the server: ``uvicorn --factory web.asgi:app``, one process, on 127.0.0.1, the worker not in it;
- the load: ``--clients`` plain asyncio connections (raw HTTP/1.1, keep-alive), each sending the next GET as
  soon as its previous one is answered, ``--requests`` per page after ``--warmup`` unmeasured ones: the
  volunteer dashboard, the time-entry form, the statistics page of that association (the last complete year)
  and its moderation queue. Every answer must be a 200.

It prints requests per second and p50/p95/p99 per page, and the resident memory of the server process when the
load is over (``VmRSS`` and ``VmHWM`` of ``/proc/PID/status``). ``--append`` adds the figures to
``docs/performance.md``, in the sections "Pages under load" and "Memory" (or "Growth" with ``--growth``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, update  # noqa: E402

from instance.db import create_engine  # noqa: E402
from instance.models import Association, Membership, Role, TimeEntry, User  # noqa: E402
from instance.security import hash_password  # noqa: E402
from instance.settings import Settings  # noqa: E402

ADDRESS = "127.0.0.1"
PASSWORD = "bench-password-not-secret"  # noqa: S105 (a throw-away bench account)
SQLITE_URL = f"sqlite+aiosqlite:///{ROOT / 'bench' / 'data' / 'pages.sqlite3'}"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_pages"
PERFORMANCE = ROOT / "docs" / "performance.md"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="SQLAlchemy async URL (default: bench/data/pages.sqlite3 or bench_pages)")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--growth", action="store_true", help="measure at each of --sizes")
    parser.add_argument("--sizes", default="10000,100000", help="entries, comma-separated (with --growth)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=600, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=50, help="requests per page before measuring")
    parser.add_argument("--no-load", action="store_true", help="use the database as it is (loaded before)")
    parser.add_argument("--append", action="store_true", help="append the figures to docs/performance.md")
    return parser.parse_args()


# -- data ----------------------------------------------------------------------------------------------------


def load(url: str, entries: int) -> float:
    started = time.perf_counter()
    loader = [sys.executable, str(ROOT / "bench" / "load_entries.py"), "--url", url, "--entries", str(entries)]
    subprocess.run(loader, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603
    return time.perf_counter() - started


async def prepare(url: str) -> dict[str, Any]:
    """Summaries written from the entries if needed; the largest association, its manager (given a password)."""
    from stats_and_export import _rebuild  # the same check-and-rebuild as the report benchmark

    engine = create_engine(Settings(database_url=url, secret_key="bench"))  # noqa: S106
    try:
        started = time.perf_counter()
        async with engine.begin() as connection:
            await connection.run_sync(_rebuild)
        summaries = time.perf_counter() - started
        async with engine.begin() as connection:
            count = func.count(TimeEntry.id)
            largest = select(TimeEntry.association_id, count).group_by(TimeEntry.association_id)
            association_id, association_entries = (
                await connection.execute(largest.order_by(count.desc()).limit(1))
            ).one()
            handle = await connection.scalar(select(Association.handle).where(Association.id == association_id))
            manager = await connection.scalar(
                select(User.id)
                .join(Membership, Membership.user_id == User.id)
                .join(Role, Role.id == Membership.role_id)
                .where(Membership.association_id == association_id, Role.manage_association.is_(True))
                .order_by(User.id)
                .limit(1)
            )
            email = await connection.scalar(select(User.email).where(User.id == manager))
            await connection.execute(
                update(User).where(User.id == manager).values(password_hash=hash_password(PASSWORD))
            )
            own = await connection.scalar(select(func.count()).where(TimeEntry.user_id == manager))
            total = await connection.scalar(select(func.count()).select_from(TimeEntry))
    finally:
        await engine.dispose()
    return {
        "handle": handle,
        "email": email,
        "association_entries": association_entries,
        "manager_entries": own,
        "entries": total,
        "summaries_s": summaries,
    }


# -- the server ----------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((ADDRESS, 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BENEVALIBRE_")}
    env |= {
        "BENEVALIBRE_DATABASE_URL": url,
        "BENEVALIBRE_BASE_URL": f"http://{ADDRESS}:{port}",
        "BENEVALIBRE_DATA_DIR": str(folder),
        "BENEVALIBRE_DEV_MODE": "true",  # plain http on loopback
        "BENEVALIBRE_WORKER_IN_PROCESS": "false",
        "BENEVALIBRE_LOG_LEVEL": "warning",
        "BENEVALIBRE_SECRET_KEY": "bench-secret",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "web.asgi:app", "--host", ADDRESS, "--port", str(port)]
    command += ["--workers", "1", "--no-access-log", "--log-level", "warning"]
    server = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            import socket

            with socket.create_connection((ADDRESS, port), timeout=1.0):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def memory(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (the most it was resident), in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(value.split()[0]) / 1024
    return values


def log_in(port: int, email: str) -> str:
    """The session cookie (``name=value``) the login form sets."""
    import httpx

    with httpx.Client(base_url=f"http://{ADDRESS}:{port}") as http:
        page = http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:300]
        form = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
        answer = http.post("/login", data=form)
        assert answer.status_code == 303, (answer.status_code, answer.text[:300])
        cookies = answer.headers.get_list("set-cookie")
        assert cookies, "no session cookie"
        return "; ".join(cookie.split(";", 1)[0] for cookie in cookies)


# -- the load ------------------------------------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> int:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length, chunked = 0, False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    elif length:
        await reader.readexactly(length)
    return int(head[0].split(" ", 2)[1])


async def hammer(port: int, path: str, cookie: str, count: int, clients: int) -> dict[str, Any]:
    raw = f"GET {path} HTTP/1.1\r\nHost: {ADDRESS}:{port}\r\nCookie: {cookie}\r\nAccept-Language: fr\r\n\r\n".encode()
    queue = deque(range(count))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client() -> None:
        reader, writer = await asyncio.open_connection(ADDRESS, port, limit=2**22)
        try:
            while queue:
                queue.popleft()
                started = time.perf_counter()
                writer.write(raw)
                status = await read_response(reader)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(min(clients, count))))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(share: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * share))]

    return {
        "requests": count,
        "statuses": statuses,
        "per_second": count / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": percentile(0.95),
        "p99_ms": percentile(0.99),
    }


def pages(handle: str) -> dict[str, str]:
    year = dt.date.today().year - 1
    return {
        "dashboard": "/dashboard",
        "entry form": "/entries/new",
        "statistics": f"/associations/{handle}/statistics?year={year}",
        "moderation queue": f"/associations/{handle}/moderation",
    }


def measure(url: str, entries: int, args: argparse.Namespace) -> dict[str, Any]:
    loaded = None if args.no_load else load(url, entries)
    data = asyncio.run(prepare(url))
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    server = start_server(url, port, folder)
    try:
        cookie = log_in(port, data["email"])
        results = {}
        for name, path in pages(data["handle"]).items():
            asyncio.run(hammer(port, path, cookie, args.warmup, args.clients))
            result = asyncio.run(hammer(port, path, cookie, args.requests, args.clients))
            assert set(result["statuses"]) == {200}, (name, result["statuses"])
            results[name] = result
            print(
                f"  {name:<17} {result['per_second']:7.1f} req/s  p50 {result['p50_ms']:7.1f} ms  "
                f"p95 {result['p95_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms",
                flush=True,
            )
        rss = memory(server.pid)
    finally:
        stop(server)
    return {**data, "loaded_s": loaded, "pages": results, "memory": rss, "load": os.getloadavg()}


# -- the report ----------------------------------------------------------------------------------------------


def load_text(load: tuple[float, ...]) -> str:
    return f"{' / '.join(f'{x:.1f}' for x in load)} (1 / 5 / 15 min)"


def heading(database: str, what: str) -> list[str]:
    from stats_and_export import commit, machine

    return [
        f"### {dt.date.today().isoformat()} · {database} · {what}",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- Commit: {commit()}",
    ]


def under_load_report(database: str, run: dict[str, Any], args: argparse.Namespace, before: tuple[float, ...]) -> str:
    lines = heading(database, f"{run['entries']:,} entries")
    lines += [
        f"- Load average at the start: {load_text(before)}; when done: {load_text(run['load'])}",
        f"- {args.clients} clients, {args.requests:,} requests per page after {args.warmup} unmeasured; the "
        f"largest association ({run['association_entries']:,} entries), its manager ({run['manager_entries']:,} "
        "entries of their own)",
        "",
        "| Page | Requests/s | p50 | p95 | p99 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, page in run["pages"].items():
        lines.append(
            f"| {name} | {page['per_second']:.0f} | {page['p50_ms']:.0f} ms | {page['p95_ms']:.0f} ms | "
            f"{page['p99_ms']:.0f} ms |"
        )
    return "\n".join(lines) + "\n"


def memory_report(database: str, run: dict[str, Any]) -> str:
    lines = heading(database, f"{run['entries']:,} entries")
    lines.append(
        f'- One uvicorn process after the {len(run["pages"])} pages of "Pages under load": resident '
        f"{run['memory']['VmRSS']:.0f} MiB (VmRSS), at most {run['memory']['VmHWM']:.0f} MiB (VmHWM)"
    )
    return "\n".join(lines) + "\n"


def growth_report(database: str, runs: list[dict[str, Any]], args: argparse.Namespace, before: Any) -> str:
    lines = heading(database, ", ".join(f"{run['entries']:,}" for run in runs) + " entries")
    lines += [
        f"- Load average at the start: {load_text(before)}; when done: {load_text(runs[-1]['load'])}",
        f"- {args.clients} clients, {args.requests:,} requests per page; p95 in ms (requests per second)",
        "",
        "| Page | " + " | ".join(f"{run['entries']:,} entries" for run in runs) + " | Last / first |",
        "| --- " * (len(runs) + 2) + "|",
    ]
    for name in runs[0]["pages"]:
        cells = [f"{run['pages'][name]['p95_ms']:.0f} ({run['pages'][name]['per_second']:.0f}/s)" for run in runs]
        ratio = runs[-1]["pages"][name]["p95_ms"] / runs[0]["pages"][name]["p95_ms"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    lines.append("| resident memory | " + " | ".join(f"{run['memory']['VmRSS']:.0f} MiB" for run in runs) + " | |")
    return "\n".join(lines) + "\n"


def append_to_section(section: str, text: str) -> None:
    """Add ``text`` at the end of the ``## section`` of docs/performance.md (the section is made if missing)."""
    document = PERFORMANCE.read_text(encoding="utf-8")
    title = f"\n## {section}\n"
    if title not in document:
        document = document.rstrip("\n") + f"\n{title}\n"
    start = document.index(title) + len(title)
    following = document.find("\n## ", start)
    end = len(document) if following < 0 else following + 1
    document = document[:end].rstrip("\n") + "\n\n" + text + "\n" + document[end:]
    PERFORMANCE.write_text(document, encoding="utf-8")


def main() -> None:
    args = parse_args()
    url = args.url or (POSTGRES_URL if args.database == "postgresql" else SQLITE_URL)
    database = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    before = os.getloadavg()
    if args.growth:
        runs = []
        for size in (int(size) for size in args.sizes.split(",")):
            print(f"{database}, {size:,} entries", flush=True)
            runs.append(measure(url, size, args))
        text = growth_report(database, runs, args, before)
        print(text)
        if args.append:
            append_to_section("Growth", text)
        return
    print(f"{database}, {args.entries:,} entries", flush=True)
    run = measure(url, args.entries, args)
    text, rss = under_load_report(database, run, args, before), memory_report(database, run)
    print(text + "\n" + rss)
    if args.append:
        append_to_section("Pages under load", text)
        append_to_section("Memory", rss)


if __name__ == "__main__":
    main()
