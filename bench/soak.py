"""Soak: one instance under a steady mix of traffic for a while; its memory and its errors, minute by minute.

    .venv/bin/python bench/soak.py                           # 600 s
    .venv/bin/python bench/soak.py --duration 60 --json soak.json
    .venv/bin/python bench/soak.py --append                  # adds the figures to docs/reliability.md, "Soak"

What runs:

- the instance: ``benevalibre serve`` with the worker in the same process (the default of ``serve``), SQLite, in
  development mode on a loopback address, its inbox rate limit lifted (all the activities come from one
  address), logging warnings only;
- the peers: the stand-in peer server of the end-to-end tests (``tests/e2e/peers.py``), ``--actors`` actors on
  another loopback address, with their keys and inboxes;
- the traffic, at a steady rate (requests start on a schedule, not when the previous one is answered; at most
  ``--concurrency`` at once), after ``--warmup`` seconds of the same traffic that are not counted:
  - page views (``--pages`` a second) by people logged in through the login form: the dashboard and the entry
    form of volunteers, the statistics of the association by its manager;
  - signed activities (``--activities`` a second): a ``Follow`` of the association by one of the peers' actors
    in turn, each with a new id; the worker handles each and sends an ``Accept`` back, so deliveries go out too;
  - form posts (``--entries`` a minute): a volunteer logs time (``POST /entries/new`` with the CSRF token).

Every ``--sample`` seconds it reads the resident memory of the server process (``VmRSS``) and the worker's
backlog (activities not handled yet, deliveries not made yet). A request is an error unless it gets the answer
it should (200 for a page, 202 for an activity, 303 for a form); answers of 500 and over, and requests with no
answer within 30 s, are also counted apart. Once the traffic stops, the time the worker takes to clear its
backlog is measured. The table gives, for each minute: requests, errors, 5xx, p95 latency, RSS at the end of
the minute and the backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.e2e.peers import Peers  # noqa: E402
from tests.e2e.servers import Server, free_port, loopback_available  # noqa: E402

RELIABILITY = ROOT / "docs" / "reliability.md"
PASSWORD = "soak-password-not-secret"  # noqa: S105 (throw-away accounts)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
EXPECTED = {"page": 200, "activity": 202, "form": 303}
REQUEST_TIMEOUT = 30.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="measured seconds (default 600)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of traffic before measuring")
    parser.add_argument("--pages", type=float, default=8.0, help="page views a second (default 8)")
    parser.add_argument("--activities", type=float, default=4.0, help="signed activities a second (default 4)")
    parser.add_argument("--entries", type=float, default=6.0, help="entries logged a minute (default 6)")
    parser.add_argument("--volunteers", type=int, default=5, help="volunteers browsing (default 5)")
    parser.add_argument("--actors", type=int, default=50, help="actors of the peer server (default 50)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at most (default 32)")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between two samples (default 5)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--append", action="store_true", help="append the figures to docs/reliability.md")
    return parser.parse_args(argv)


# -- what is measured ----------------------------------------------------------------------------------------


@dataclass
class Minute:
    requests: int = 0
    errors: int = 0
    server_errors: int = 0  # 5xx
    no_answer: int = 0
    latencies: list[float] = field(default_factory=list)
    rss_mib: float = 0.0
    backlog: tuple[int, int] = (0, 0)  # activities not handled, deliveries not made


@dataclass
class Sample:
    at: float  # seconds since the measured period began
    rss_mib: float
    activities_waiting: int
    deliveries_waiting: int


@dataclass
class Soak:
    started: float = 0.0  # monotonic time the measured period began (0 during the warm-up)
    minutes: dict[int, Minute] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    unexpected: dict[str, int] = field(default_factory=dict)  # "kind status" -> count, for the report
    error_times: list[float] = field(default_factory=list)  # seconds into the measured period

    def record(self, kind: str, status: int, seconds: float, at: float) -> None:
        if not self.started or at < self.started:
            return  # the warm-up
        minute = self.minutes.setdefault(int((at - self.started) // 60), Minute())
        minute.requests += 1
        minute.latencies.append(seconds)
        if status != EXPECTED[kind]:
            minute.errors += 1
            self.error_times.append(at - self.started)
            key = f"{kind} {status or 'no answer'}"
            self.unexpected[key] = self.unexpected.get(key, 0) + 1
        if status >= 500:
            minute.server_errors += 1
        if status == 0:
            minute.no_answer += 1


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def backlog(database: Path) -> tuple[int, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        activities = db.execute("SELECT count(*) FROM inbox_items WHERE state = 'RECEIVED'").fetchone()[0]
        deliveries = db.execute("SELECT count(*) FROM deliveries WHERE state = 'PENDING'").fetchone()[0]
    return int(activities), int(deliveries)


# -- the traffic ---------------------------------------------------------------------------------------------


async def log_in(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/login")
    token = CSRF.search(page.text)
    assert token, page.text[:300]
    answer = await client.post("/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD})
    assert answer.status_code == 303, (email, answer.status_code, answer.text[:300])


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        status = (await call()).status_code
    except httpx.HTTPError:
        status = 0
    return status, time.perf_counter() - started


class Traffic:
    def __init__(self, server: Server, peers: Peers, args: argparse.Namespace, soak: Soak) -> None:
        self.server, self.peers, self.args, self.soak = server, peers, args, soak
        self.inbox = f"{server.base_url}/inbox"
        self.association = f"{server.base_url}/associations/restos"
        self.volunteers: list[httpx.AsyncClient] = []
        self.manager: httpx.AsyncClient | None = None
        self.servers = httpx.AsyncClient(timeout=REQUEST_TIMEOUT)
        self.category = ""
        self.turns = {"page": 0, "activity": 0, "form": 0}
        self.in_flight = asyncio.Semaphore(args.concurrency)
        self.tasks: set[asyncio.Task[None]] = set()

    def browser(self) -> httpx.AsyncClient:
        headers = {"Accept-Language": "fr"}
        return httpx.AsyncClient(base_url=self.server.base_url, headers=headers, timeout=REQUEST_TIMEOUT)

    async def prepare(self) -> None:
        """Log everyone in; the volunteers join the association; read the category of the entry form."""
        self.manager = self.browser()
        await log_in(self.manager, "manager@soak.test")
        for number in range(self.args.volunteers):
            client = self.browser()
            await log_in(client, f"volunteer{number}@soak.test")
            page = (await client.get("/associations/restos")).text
            token = CSRF.search(page)
            assert token
            joined = await client.post("/associations/restos/join", data={"csrf_token": token.group(1)})
            assert joined.status_code == 303, joined.text[:300]
            self.volunteers.append(client)
        form = (await self.volunteers[0].get("/entries/new?association=restos")).text
        category = re.search(r'<option value="(\d+)"', form.split('name="category"', 1)[1])
        assert category, "no category on the entry form"
        self.category = category.group(1)

    async def close(self) -> None:
        for client in [*self.volunteers, self.manager, self.servers]:
            if client is not None:
                await client.aclose()

    # one request of each kind

    def turn(self, kind: str) -> int:
        self.turns[kind] += 1
        return self.turns[kind]

    async def page(self) -> tuple[int, float]:
        turn = self.turn("page")
        year = dt.date.today().year
        if turn % 3 == 2 and self.manager is not None:
            manager = self.manager
            return await timed(lambda: manager.get(f"/associations/restos/statistics?year={year}"))
        client = self.volunteers[turn % len(self.volunteers)]
        path = "/dashboard" if turn % 3 == 0 else "/entries/new"
        return await timed(lambda: client.get(path))

    async def activity(self) -> tuple[int, float]:
        number = self.turn("activity") % self.peers.count
        actor = self.peers.actor_id(number)
        follow = {"id": f"{actor}/follows/{uuid.uuid4().hex}", "type": "Follow", "actor": actor}
        body, headers = self.peers.signed(number, self.inbox, {**follow, "object": self.association})
        return await timed(lambda: self.servers.post(self.inbox, content=body, headers=headers))

    async def form(self) -> tuple[int, float]:
        turn = self.turn("form")
        client = self.volunteers[turn % len(self.volunteers)]
        page = await client.get("/entries/new?association=restos")
        token = CSRF.search(page.text)
        if page.status_code != 200 or token is None:
            return page.status_code, 0.0
        values = {
            "csrf_token": token.group(1),
            "association": "restos",
            "start_date": dt.date.today().isoformat(),
            "duration": "60",
            "title": f"Permanence {turn}",
            "category": self.category,
            "distance": "",
            "description": "",
        }
        return await timed(lambda: client.post("/entries/new", data=values))

    async def _one(self, kind: str, call: Callable[[], Awaitable[tuple[int, float]]]) -> None:
        async with self.in_flight:
            at = time.monotonic()
            status, seconds = await call()
            self.soak.record(kind, status, seconds, at)

    def spawn(self, kind: str, call: Callable[[], Awaitable[tuple[int, float]]]) -> None:
        task = asyncio.create_task(self._one(kind, call))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, seconds: float) -> None:
        """Start requests on their schedule for ``seconds``; then wait for those in flight."""
        streams: list[tuple[str, float, Callable[[], Awaitable[tuple[int, float]]]]] = [
            ("page", 1 / self.args.pages, self.page),
            ("activity", 1 / self.args.activities, self.activity),
            ("form", 60 / self.args.entries, self.form),
        ]
        start = time.monotonic()
        due = [start + index * 0.01 for index in range(len(streams))]
        while time.monotonic() - start < seconds:
            now = time.monotonic()
            for index, (kind, every, call) in enumerate(streams):
                while due[index] <= now:
                    self.spawn(kind, call)
                    due[index] += every
            await asyncio.sleep(max(0.0, min(due) - time.monotonic()))
        if self.tasks:
            await asyncio.gather(*self.tasks)


async def sample_forever(server: Server, database: Path, soak: Soak, every: float) -> None:
    assert server.web is not None
    while True:
        await asyncio.sleep(every)
        if not soak.started:
            continue
        waiting = await asyncio.to_thread(backlog, database)
        rss = resident_mib(server.web.pid)
        soak.samples.append(Sample(time.monotonic() - soak.started, rss, *waiting))
        minute = soak.minutes.setdefault(int((time.monotonic() - soak.started) // 60), Minute())
        minute.rss_mib, minute.backlog = rss, waiting


# -- the run -------------------------------------------------------------------------------------------------


def start(folder: Path, args: argparse.Namespace) -> tuple[Server, Peers]:
    address, peers_address = ("127.0.0.2", "127.0.0.3") if loopback_available("127.0.0.2") else ("127.0.0.1",) * 2
    server = Server(
        address,
        folder,
        settings={
            "BENEVALIBRE_WORKER_IN_PROCESS": "true",
            "BENEVALIBRE_INBOX_RATE_LIMIT": str(10**9),  # every activity comes from this one address
            "BENEVALIBRE_LOG_LEVEL": "warning",
        },
    )
    volunteers = [
        ["create-user", f"volunteer{number}@soak.test", "--password", PASSWORD, "--name", f"Bénévole {number}"]
        for number in range(args.volunteers)
    ]
    server.seed(
        ["create-user", "manager@soak.test", "--password", PASSWORD, "--name", "Manager"],
        *volunteers,
        ["create-association", "restos", "--name", "Restos", "--owner", "manager@soak.test"],
    )
    peers = Peers(peers_address, free_port(peers_address), args.actors)
    peers.start()
    server.start_web()
    server.wait_ready(worker=True)  # the worker runs in the web process
    return server, peers


async def soak_run(server: Server, peers: Peers, args: argparse.Namespace) -> dict[str, Any]:
    database = Path(server.environment["BENEVALIBRE_DATA_DIR"]) / "benevalibre.sqlite3"
    soak = Soak()
    traffic = Traffic(server, peers, args, soak)
    sampler = asyncio.create_task(sample_forever(server, database, soak, args.sample))
    try:
        await traffic.prepare()
        if args.warmup:
            await traffic.run(args.warmup)
        assert server.web is not None
        soak.started = time.monotonic()
        first = Sample(0.0, resident_mib(server.web.pid), *backlog(database))
        soak.samples.append(first)
        await traffic.run(args.duration)
        finished = time.monotonic()
        left = backlog(database)
        for _check in range(240):  # the worker clears what is left (two minutes at most)
            if left == (0, 0):
                break
            await asyncio.sleep(0.5)
            left = backlog(database)
        drained = time.monotonic() - finished
    finally:
        sampler.cancel()
        await traffic.close()
    return report(soak, args, drained, left, server)


def third_means(samples: list[Sample], duration: float) -> tuple[float, float]:
    first = [s.rss_mib for s in samples if s.at <= duration / 3]
    last = [s.rss_mib for s in samples if s.at >= 2 * duration / 3]
    return statistics.fmean(first or [0.0]), statistics.fmean(last or [0.0])


def report(
    soak: Soak, args: argparse.Namespace, drained: float, left: tuple[int, int], server: Server
) -> dict[str, Any]:
    minutes = []
    for number in sorted(soak.minutes):
        minute = soak.minutes[number]
        if not minute.requests:
            continue
        latencies = sorted(minute.latencies)
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] if latencies else 0.0
        minutes.append(
            {
                "minute": number + 1,
                "requests": minute.requests,
                "errors": minute.errors,
                "server_errors": minute.server_errors,
                "no_answer": minute.no_answer,
                "p95_ms": round(1000 * p95, 1),
                "rss_mib": round(minute.rss_mib, 1),
                "activities_waiting": minute.backlog[0],
                "deliveries_waiting": minute.backlog[1],
            }
        )
    first_third, last_third = third_means(soak.samples, args.duration)
    thirds = [0, 0, 0]
    for at in soak.error_times:
        thirds[min(2, int(3 * at / max(args.duration, 1)))] += 1
    return {
        "duration_s": args.duration,
        "rates": {"pages_per_s": args.pages, "activities_per_s": args.activities, "entries_per_min": args.entries},
        "requests": sum(m["requests"] for m in minutes),
        "errors": sum(m["errors"] for m in minutes),
        "server_errors": sum(m["server_errors"] for m in minutes),
        "no_answer": sum(m["no_answer"] for m in minutes),
        "unexpected": soak.unexpected,
        "errors_by_third": thirds,
        "rss_first_third_mib": round(first_third, 1),
        "rss_last_third_mib": round(last_third, 1),
        "rss_max_mib": round(max((s.rss_mib for s in soak.samples), default=0.0), 1),
        "backlog_max": [
            max((s.activities_waiting for s in soak.samples), default=0),
            max((s.deliveries_waiting for s in soak.samples), default=0),
        ],
        "drained_s": round(drained, 1),
        "left_after_drain": list(left),
        "minutes": minutes,
        "samples": [
            [round(s.at, 1), round(s.rss_mib, 1), s.activities_waiting, s.deliveries_waiting] for s in soak.samples
        ],
        "web_alive": server.web is not None and server.web.poll() is None,
    }


# -- the report ----------------------------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    lines = [
        "| Minute | Requests | Errors | 5xx | p95 | RSS | Backlog (activities / deliveries) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for minute in result["minutes"]:
        lines.append(
            f"| {minute['minute']} | {minute['requests']:,} | {minute['errors']} | {minute['server_errors']} | "
            f"{minute['p95_ms']:.0f} ms | {minute['rss_mib']:.0f} MiB | "
            f"{minute['activities_waiting']} / {minute['deliveries_waiting']} |"
        )
    return "\n".join(lines)


def text_report(result: dict[str, Any], args: argparse.Namespace, load_before: tuple[float, ...]) -> str:
    from stats_and_export import commit, machine

    load_after = os.getloadavg()

    def load_text(load: tuple[float, ...]) -> str:
        return " / ".join(f"{value:.1f}" for value in load) + " (1 / 5 / 15 min)"

    lines = [
        f"### {dt.date.today().isoformat()} · SQLite · "
        + (f"{args.duration / 60:.0f} min" if args.duration >= 60 else f"{args.duration:.0f} s"),
        "",
        f"- Machine: {machine()}",
        f"- Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- Commit: {commit()}",
        f"- Load average at the start: {load_text(load_before)}; when done: {load_text(load_after)}",
        f"- Traffic: {args.pages:g} page views/s ({args.volunteers} volunteers and a manager), "
        f"{args.activities:g} signed activities/s from {args.actors} actors, {args.entries:g} entries logged/min, "
        f"after {args.warmup:g} s of warm-up",
        f"- {result['requests']:,} requests, {result['errors']} errors ({result['server_errors']} 5xx, "
        f"{result['no_answer']} without an answer); errors by third of the run: "
        f"{' / '.join(str(n) for n in result['errors_by_third'])}",
        f"- Resident memory of the server process: {result['rss_first_third_mib']:.0f} MiB on average in the first "
        f"third, {result['rss_last_third_mib']:.0f} MiB in the last, {result['rss_max_mib']:.0f} MiB at most",
        f"- Backlog at most {result['backlog_max'][0]} activities / {result['backlog_max'][1]} deliveries; cleared "
        f"{result['drained_s']:.1f} s after the traffic stopped"
        + ("" if result["left_after_drain"] == [0, 0] else f" (left: {result['left_after_drain']})"),
        "",
        table(result),
    ]
    if result["unexpected"]:
        lines.insert(-2, f"- Unexpected answers: {result['unexpected']}")
    return "\n".join(lines) + "\n"


def append_to_section(section: str, text: str) -> None:
    """Add ``text`` at the end of the ``## section`` of docs/reliability.md (the section is made if missing)."""
    document = RELIABILITY.read_text(encoding="utf-8")
    title = f"\n## {section}\n"
    if title not in document:
        document = document.rstrip("\n") + f"\n{title}\n"
    begin = document.index(title) + len(title)
    following = document.find("\n## ", begin)
    end = len(document) if following < 0 else following + 1
    document = document[:end].rstrip("\n") + "\n\n" + text + "\n" + document[end:]
    RELIABILITY.write_text(document, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import tempfile

    args = parse_args(argv)
    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    server, peers = start(folder / "instance", args)
    try:
        result = asyncio.run(soak_run(server, peers, args))
    finally:
        server.close()
        peers.stop()
    text = text_report(result, args, load_before)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.append:
        append_to_section("Soak (`bench/soak.py`)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
