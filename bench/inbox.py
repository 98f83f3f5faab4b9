"""Benchmark: signed activities per second accepted by one inbox server process, then the worker's drain time.

Run with ``.venv/bin/python bench/inbox.py [--requests N] [--actors N] [--concurrency N]``.

What runs:

- the server: one process, uvicorn with one worker, SQLite, the app of ``create_app`` (no worker inside), in
  development mode on ``127.0.0.2``; its inbox rate limit is lifted (``BENEVALIBRE_INBOX_RATE_LIMIT``), since one
  client address sends everything and the limiter would answer 429 past 600 a minute;
- the senders: ``--actors`` distinct remote actors (RSA-2048 keys), their actor documents served by a small
  asyncio HTTP server in this process on ``127.0.0.3`` (also their inboxes, which accept the Accepts);
- the load: ``Follow`` activities of an open association, every request signed (draft-cavage rsa-sha256 with
  digest) before the timed phase, sent by ``--concurrency`` plain asyncio connections (raw HTTP/1.1 with
  keep-alive), each taking the next request as soon as its previous one is answered.

Two timed phases on the same server: "cold", against an empty key cache (the first request of each actor makes
the server fetch its actor document, signed, from the actor server), then "warm", when every key is cached as a
``RemoteActor`` row. Each gives accepted activities per second (202 answers over the wall time of the phase) and
the p50/p99 latency. The bare RSA-2048 verify rate is measured in this process first, on the same machine and
in the same run. Then ``benevalibre worker`` is started and the time until every stored activity is handled
(``inbox_items`` no longer ``received``) is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from federation import keys  # noqa: E402
from federation.httpsig import sign_request  # noqa: E402

SERVER_ADDRESS, ACTORS_ADDRESS = "127.0.0.2", "127.0.0.3"
AP = "application/activity+json"
PASSWORD = "bench-password-not-secret"  # noqa: S105 (a throw-away bench account)


def free_port(address: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port


# -- the server process --------------------------------------------------------------------------------------


def serve(address: str, port: int) -> None:
    """The inbox server: the application under uvicorn (one worker), profiled when ``BENCH_PROFILE`` names a file."""
    import uvicorn

    from instance.logs import configure_logging
    from instance.runtime import freeze_startup_heap
    from instance.settings import Settings
    from web.app import create_app

    settings = Settings.load()
    configure_logging(settings)
    app = create_app(settings)
    freeze_startup_heap()  # as ``benevalibre serve`` does
    profile = os.environ.get("BENCH_PROFILE")
    if not profile:
        uvicorn.run(app, host=address, port=port, log_level="warning", log_config=None, access_log=False)
        return
    import cProfile
    import signal

    # uvicorn raises the signal that stopped it again once it is done: let it end here so the profile is written
    signal.signal(signal.SIGTERM, lambda _signal, _frame: None)
    with cProfile.Profile() as profiler:
        uvicorn.run(app, host=address, port=port, log_level="warning", log_config=None, access_log=False)
    profiler.dump_stats(profile)


def work() -> None:
    """``benevalibre worker``, profiled into ``BENCH_PROFILE`` + ``.worker`` (the bench runs it so when set)."""
    import cProfile

    from web.cli import main as cli

    with cProfile.Profile() as profiler, contextlib.suppress(SystemExit):
        cli(["worker"])
    profiler.dump_stats(os.environ["BENCH_PROFILE"] + ".worker")


# -- the senders' actor documents ----------------------------------------------------------------------------


@dataclass
class Sender:
    number: int
    uri: str
    key_id: str
    private: rsa.RSAPrivateKey
    public_pem: str


class ActorServer:
    """Serves the senders' actor documents (GET) and accepts what is posted to their inboxes (202)."""

    def __init__(self, base: str, senders: dict[str, Sender]) -> None:
        self.base = base
        self.senders = senders
        self.gets = 0
        self.posts = 0

    def document(self, path: str) -> bytes | None:
        sender = self.senders.get(self.base + path)
        if sender is None:
            return None
        return json.dumps(
            {
                "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": sender.uri,
                "type": "Person",
                "preferredUsername": f"sender{sender.number}",
                "inbox": f"{sender.uri}/inbox",
                "endpoints": {"sharedInbox": f"{self.base}/inbox"},
                "publicKey": {"id": sender.key_id, "owner": sender.uri, "publicKeyPem": sender.public_pem},
            }
        ).encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _version = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                if method == "GET":
                    self.gets += 1
                    body = self.document(path.split("?", 1)[0])
                    status, kind = ("200 OK", AP) if body is not None else ("404 Not Found", "text/plain")
                    body = body if body is not None else b"no such actor"
                else:
                    self.posts += 1
                    status, kind, body = "202 Accepted", "text/plain", b""
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


# -- the load ------------------------------------------------------------------------------------------------


def make_senders(base: str, count: int) -> list[Sender]:
    senders = []
    for number in range(count):
        pair = keys.generate_rsa()
        uri = f"{base}/actors/{number}"
        senders.append(Sender(number, uri, f"{uri}#main-key", keys.load_rsa_private(pair.private_pem), pair.public))
    return senders


def presign(server: str, path: str, target: str, senders: list[Sender], count: int, tag: str) -> list[bytes]:
    """``count`` signed raw HTTP/1.1 requests, the senders taking turns."""
    host = server.split("://", 1)[1]
    requests = []
    for index in range(count):
        sender = senders[index % len(senders)]
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{sender.uri}/follows/{tag}-{index}",
            "type": "Follow",
            "actor": sender.uri,
            "object": target,
        }
        body = json.dumps(activity).encode()
        headers = sign_request("POST", server + path, {"Content-Type": AP}, body, sender.key_id, sender.private)
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items() if name != "Host")
        head += f"Content-Length: {len(body)}\r\n\r\n"
        requests.append(head.encode() + body)
    return requests


async def read_status(reader: asyncio.StreamReader) -> int:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return int(head[0].split(" ", 2)[1])


async def load(address: str, port: int, requests: list[bytes], concurrency: int) -> dict[str, Any]:
    queue = deque(requests)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(address, port)
        try:
            while queue:
                raw = queue.popleft()
                start = time.perf_counter()
                writer.write(raw)
                status = await read_status(reader)
                latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(requests),
        "seconds": elapsed,
        "accepted": statuses.get(202, 0),
        "accepted_per_second": statuses.get(202, 0) / elapsed,
        "statuses": statuses,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def verify_rate(seconds: float = 2.0) -> float:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    message = b"(request-target): post /inbox\nhost: b.test\ndate: Fri, 27 Nov 2026 08:00:00 GMT\ndigest: SHA-256=x"
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return count / (time.perf_counter() - start)


# -- the run -------------------------------------------------------------------------------------------------


def command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from web.cli import main; main()", *args]


def wait_http(address: str, port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {address}:{port}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def waiting_items(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        row = connection.execute("SELECT count(*) FROM inbox_items WHERE lower(state) = 'received'").fetchone()
        return int(row[0])


def serve_actors(actor_server: ActorServer, address: str, port: int) -> None:
    """Serve the senders' actor documents from a thread with its own event loop (a daemon: it ends with us)."""
    ready = threading.Event()

    async def forever() -> None:
        await asyncio.start_server(actor_server.handle, address, port)
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(forever(),), daemon=True).start()
    ready.wait(10)


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    port, actors_port = free_port(SERVER_ADDRESS), free_port(ACTORS_ADDRESS)
    server = f"http://{SERVER_ADDRESS}:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("BENEVALIBRE_")}
    env |= {
        "BENEVALIBRE_BASE_URL": server,
        "BENEVALIBRE_DATA_DIR": str(folder),
        "BENEVALIBRE_DEV_MODE": "true",
        "BENEVALIBRE_WORKER_IN_PROCESS": "false",
        "BENEVALIBRE_WORKER_POLL_INTERVAL": "0.1",
        "BENEVALIBRE_LOG_LEVEL": "warning",
        "BENEVALIBRE_SECRET_KEY": "bench-secret",
        "BENEVALIBRE_INBOX_RATE_LIMIT": str(10**9),  # one client address sends everything
        "PYTHONPATH": str(ROOT),
    }
    for argv in (
        ["init"],
        ["create-user", "owner@bench.test", "--password", PASSWORD],
        ["create-association", "restos", "--name", "Restos", "--owner", "owner@bench.test"],
    ):
        subprocess.run(command(*argv), env=env, check=True, capture_output=True)  # noqa: S603

    actors_base = f"http://{ACTORS_ADDRESS}:{actors_port}"
    senders = make_senders(actors_base, args.actors)
    actor_server = ActorServer(actors_base, {sender.uri: sender for sender in senders})
    serve_actors(actor_server, ACTORS_ADDRESS, actors_port)

    path, target = "/associations/restos/inbox", f"{server}/associations/restos"
    started = time.perf_counter()
    cold = presign(server, path, target, senders, args.requests, "cold")
    warm = presign(server, path, target, senders, args.requests, "warm")
    presign_seconds = time.perf_counter() - started
    rsa_verify = verify_rate()

    serving = subprocess.Popen(  # noqa: S603
        [sys.executable, str(Path(__file__).resolve()), "--serve", SERVER_ADDRESS, str(port)], env=env, cwd=ROOT
    )
    try:
        wait_http(SERVER_ADDRESS, port)
        results = {
            "cold": asyncio.run(load(SERVER_ADDRESS, port, cold, args.concurrency)),
            "actor_fetches": actor_server.gets,
            "warm": asyncio.run(load(SERVER_ADDRESS, port, warm, args.concurrency)),
        }
    finally:
        stop(serving)

    database = folder / "benevalibre.sqlite3"
    stored = waiting_items(database)
    start = time.perf_counter()
    profiled = [sys.executable, str(Path(__file__).resolve()), "--work"]
    working = profiled if env.get("BENCH_PROFILE") else command("worker")
    worker = subprocess.Popen(working, env=env, cwd=ROOT)  # noqa: S603
    try:
        while waiting_items(database) and time.perf_counter() - start < args.drain_timeout:
            time.sleep(0.2)
        drained = time.perf_counter() - start
        left = waiting_items(database)
    finally:
        stop(worker)
    return {
        **results,
        "rsa2048_verify_per_second": rsa_verify,
        "presign_seconds": presign_seconds,
        "stored": stored,
        "drain_seconds": drained,
        "drain_left": left,
        "drain_per_second": (stored - left) / drained if drained else 0.0,
        "accepts_posted_while_draining": actor_server.posts,
        "actors": args.actors,
        "concurrency": args.concurrency,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "load_after": os.getloadavg(),
    }


def main() -> None:
    if sys.argv[1:] == ["--work"]:
        work()
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=5000, help="signed requests per phase (default 5000)")
    parser.add_argument("--actors", type=int, default=200, help="distinct sender actors (default 200)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="seconds to wait for the worker")
    args = parser.parse_args()
    figures = run(args)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
