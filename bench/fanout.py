"""Benchmark: an association's news fanned out to its remote followers by 1, 2 and 4 worker processes (PostgreSQL).

    .venv/bin/python bench/fanout.py                                       # 1,000 followers on 50 hosts
    .venv/bin/python bench/fanout.py --followers 10000 --hosts 500 --append

What runs:

- the database (``--url``, PostgreSQL; dropped and created anew) holds one association with ``--followers``
  remote followers (``RemoteActor`` and accepted ``Follow`` rows) spread evenly over ``--hosts`` receiving hosts.
  Each host is a distinct loopback address (``127.10.X.Y``: the federation client sees as many domains, in
  development mode, which allows plain HTTP and loopback), all served by one small asyncio HTTP server of this
  bench (a thread with its own event loop, one listening socket per address). Each follower has its own inbox
  (``http://127.10.X.Y:PORT/users/N/inbox``, no shared inbox), so that one delivery is one follower;
  ``--shared-inbox`` gives each host a shared inbox instead (deliveries are then folded to one per host);
- the receiving server verifies the HTTP signature of every POST (digest, date, signed headers) with the
  association's public key and answers 202, or 401 when it does not verify (GETs, which the worker's nodeinfo
  task sends to each new domain, get a 404 and are counted apart);
- for each worker count (``--workers``, default 1,2,4): ``benevalibre worker`` processes are started and left
  to settle, a manager of the association publishes a news note (``publish_news``: the worker turns it into
  one queued delivery per inbox, ``send_news``), and the bench waits until every delivery is received and
  marked sent. The time runs from the commit of the note to the last delivery received.

It prints the time, deliveries per second (overall and per worker process), whether any inbox received the
same activity twice, and the bare RSA-2048 sign rate measured in the same run. ``--append`` adds the figures to
the "Fan-out" section of ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from federation.httpsig import SignatureError, verify_request  # noqa: E402
from federation.local_keys import actor_key, owner_of  # noqa: E402
from instance.models import Association, User  # noqa: E402
from instance.models.federation import Delivery, DeliveryState, Follow, FollowState, RemoteActor  # noqa: E402
from instance.services.news import publish_news  # noqa: E402
from instance.settings import Settings  # noqa: E402
from web.app import create_app  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_fanout"
APP_ADDRESS = "127.0.0.1"
PASSWORD = "bench-password-not-secret"  # noqa: S105 (a throw-away bench account)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL async URL (the database is made anew)")
    parser.add_argument("--followers", type=int, default=1_000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated")
    parser.add_argument("--shared-inbox", action="store_true", help="one shared inbox per host")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for one fan-out")
    parser.add_argument("--append", action="store_true", help="append the figures to docs/performance.md")
    return parser.parse_args()


def host_address(number: int) -> str:
    return f"127.10.{number // 200}.{number % 200 + 1}"


# -- the receiving hosts -------------------------------------------------------------------------------------


class Receiver:
    """Every receiving host: verifies each POST's signature with the association's key, counts what arrives."""

    def __init__(self, public_pem: str) -> None:
        self.public_pem = public_pem
        self.received: Counter[tuple[str, str]] = Counter()  # (inbox URL, digest of the body) -> times
        self.refused = 0
        self.gets = 0  # unsigned GETs (nodeinfo), answered 404, not deliveries
        self.reasons: Counter[str] = Counter()  # why signatures were refused
        self.last = 0.0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _version = head[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in head[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip()] = value.strip()
                length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
                body = await reader.readexactly(length) if length else b""
                host = next(v for k, v in headers.items() if k.lower() == "host")
                url = f"http://{host}{path}"
                if method != "POST":  # the worker's nodeinfo task asks each new domain what software it runs
                    self.gets += 1
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                try:
                    verify_request(method, url, headers, body, self.public_pem)
                except SignatureError as error:
                    self.refused += 1
                    self.reasons[f"{method} {path.split('/')[1]}: {str(error)[:200]}"] += 1
                    status = "401 Unauthorized"
                else:
                    digest = next((v for k, v in headers.items() if k.lower() == "digest"), "")
                    self.received[(url, digest)] += 1
                    self.last = time.perf_counter()
                    status = "202 Accepted"
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def serve(self, addresses: list[str], port: int) -> None:
        ready = threading.Event()

        async def forever() -> None:
            await asyncio.start_server(self.handle, addresses, port, backlog=1024)
            ready.set()
            await asyncio.Event().wait()

        threading.Thread(target=asyncio.run, args=(forever(),), daemon=True).start()
        if not ready.wait(30):
            raise SystemExit("the receiving server did not start")


# -- setup ---------------------------------------------------------------------------------------------------


def free_port(address: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


async def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = create_async_engine(urlunsplit(parts._replace(path="/postgres")), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()


def environment(url: str, folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BENEVALIBRE_")}
    return env | {
        "BENEVALIBRE_DATABASE_URL": url,
        "BENEVALIBRE_BASE_URL": f"http://{APP_ADDRESS}:8",  # never served: the followers do not call back
        "BENEVALIBRE_DATA_DIR": str(folder),
        "BENEVALIBRE_DEV_MODE": "true",  # plain http and loopback addresses for the receiving hosts
        "BENEVALIBRE_WORKER_IN_PROCESS": "false",
        "BENEVALIBRE_WORKER_POLL_INTERVAL": "0.1",
        "BENEVALIBRE_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "warning"),
        "BENEVALIBRE_SECRET_KEY": "bench-secret",
        "PYTHONPATH": str(ROOT),
    }


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from web.cli import main; main()", *args]


async def followers(settings: Settings, args: argparse.Namespace, port: int) -> str:
    """The association's followers; the association's public key (made now, as its first activity would)."""
    app = create_app(settings)
    instance = app.state.instance
    async with instance.sessions() as db:
        association = await db.scalar(select(Association).where(Association.handle == "restos"))
        assert association is not None
        key = await actor_key(db, settings, owner_of(settings, association))
        actors, follows = [], []
        for number in range(args.followers):
            host = f"http://{host_address(number % args.hosts)}:{port}"
            uri = f"{host}/users/{number}"
            actors.append(
                {
                    "uri": uri,
                    "domain": host_address(number % args.hosts),
                    "inbox": f"{uri}/inbox",
                    "shared_inbox": f"{host}/inbox" if args.shared_inbox else "",
                    "key_id": f"{uri}#main-key",
                    "preferred_username": f"follower{number}",
                }
            )
            follows.append(
                {
                    "activity_id": f"{uri}/follows/1",
                    "follower_uri": uri,
                    "followed_uri": f"{settings.base_url}/associations/restos",
                    "association_id": association.id,
                    "state": FollowState.ACCEPTED,
                }
            )
        for start in range(0, len(actors), 2000):
            await db.execute(insert(RemoteActor), actors[start : start + 2000])
            await db.execute(insert(Follow), follows[start : start + 2000])
        public_pem = key.rsa_public_pem
        await db.commit()
    await instance.engine.dispose()
    return public_pem


async def publish(settings: Settings, text_: str) -> tuple[float, str]:
    """A manager publishes a note; the moment it is committed, and its activity's id prefix."""
    app = create_app(settings)
    instance = app.state.instance
    async with instance.sessions() as db:
        association = await db.scalar(select(Association).where(Association.handle == "restos"))
        owner = await db.scalar(select(User).where(User.email == "owner@bench.test"))
        assert association is not None and owner is not None
        news = await publish_news(db, owner, association, text_)
        await db.commit()
        committed = time.perf_counter()
        news_id = news.id
    await instance.engine.dispose()
    return committed, str(news_id)


async def deliveries(settings: Settings, clear: bool = False) -> dict[str, int]:
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as connection:
        if clear:
            await connection.execute(delete(Delivery))
        rows = (await connection.execute(select(Delivery.state, func.count()).group_by(Delivery.state))).all()
    await engine.dispose()
    return {str(state): count for state, count in rows}


# -- the run -------------------------------------------------------------------------------------------------


def sign_rate(seconds: float = 2.0) -> float:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"(request-target): post /inbox\nhost: b.test\ndate: Fri, 27 Nov 2026 08:00:00 GMT\ndigest: SHA-256=x"
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return count / (time.perf_counter() - start)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def fan_out(settings: Settings, env: dict[str, str], receiver: Receiver, workers: int, args: Any) -> dict[str, Any]:
    asyncio.run(deliveries(settings, clear=True))
    receiver.received.clear()
    processes = [subprocess.Popen(cli("worker"), env=env, cwd=ROOT) for _ in range(workers)]  # noqa: S603
    try:
        time.sleep(3)  # started and idle
        committed, _news = asyncio.run(publish(settings, f"Assemblée générale ({workers} workers)"))
        expected = args.hosts if args.shared_inbox else args.followers
        states: dict[str, int] = {}
        while time.perf_counter() - committed < args.timeout:
            time.sleep(0.25)  # the receiver counts; the database is asked only once all have arrived
            if sum(receiver.received.values()) >= expected:
                states = asyncio.run(deliveries(settings))
                if states.get(DeliveryState.PENDING, 0) == 0:
                    break
        seconds = receiver.last - committed
    finally:
        for process in processes:
            stop(process)
    received = sum(receiver.received.values())
    twice = sum(times - 1 for times in receiver.received.values() if times > 1)
    return {
        "workers": workers,
        "expected": expected,
        "received": received,
        "distinct": len(receiver.received),
        "twice": twice,
        "refused": receiver.refused,
        "states": states,
        "seconds": seconds,
        "per_second": received / seconds if seconds > 0 else 0.0,
    }


def report(args: argparse.Namespace, runs: list[dict[str, Any]], rate: float, before: tuple[float, ...]) -> str:
    from pages import heading, load_text

    per_inbox = "a shared inbox per host" if args.shared_inbox else "an inbox per follower"
    lines = heading("PostgreSQL", f"{args.followers:,} followers on {args.hosts:,} hosts")
    lines += [
        f"- Load average at the start: {load_text(before)}; when done: {load_text(os.getloadavg())}",
        f"- {per_inbox}; hosts are distinct loopback addresses served by one asyncio server in the bench process, "
        "which verifies every signature",
        f"- Bare RSA-2048 sign (PKCS#1 v1.5, SHA-256) in the same run, one core: {rate:,.0f} per second",
        "",
        "| Workers | Deliveries | Time | Deliveries/s | Per worker | Received twice | Refused signatures |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        lines.append(
            f"| {run['workers']} | {run['received']:,} of {run['expected']:,} | {run['seconds']:.1f} s | "
            f"{run['per_second']:.0f} | {run['per_second'] / run['workers']:.0f} | {run['twice']} | {run['refused']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    before = os.getloadavg()
    rate = sign_rate()
    print(f"bare RSA-2048 sign: {rate:,.0f} per second", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    env = environment(args.url, folder)
    settings = Settings.load(env)
    asyncio.run(recreate_database(args.url))
    for argv in (
        ["init"],
        ["create-user", "owner@bench.test", "--password", PASSWORD],
        ["create-association", "restos", "--name", "Restos", "--owner", "owner@bench.test"],
    ):
        subprocess.run(cli(*argv), env=env, check=True, capture_output=True)  # noqa: S603
    port = free_port(host_address(0))
    public_pem = asyncio.run(followers(settings, args, port))
    receiver = Receiver(public_pem)
    receiver.serve([host_address(number) for number in range(args.hosts)], port)
    runs = []
    for workers in (int(count) for count in args.workers.split(",")):
        run = fan_out(settings, env, receiver, workers, args)
        runs.append(run)
        print(
            f"  {workers} worker(s): {run['received']:,}/{run['expected']:,} in {run['seconds']:.1f} s, "
            f"{run['per_second']:.0f}/s, twice {run['twice']}, refused {run['refused']}, {run['states']}",
            dict(receiver.reasons),
            flush=True,
        )
    text_ = report(args, runs, rate, before)
    print(text_)
    if args.append:
        from pages import append_to_section

        append_to_section("Fan-out", text_)


if __name__ == "__main__":
    main()
