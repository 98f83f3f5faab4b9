"""A stand-in peer server for end-to-end tests: many ActivityPub actors of another server, served on loopback.

Each actor ``/actors/{n}`` is a ``Person`` with its own inbox (no shared inbox, so deliveries are not folded) and a
key (one RSA key pair for all, to save the generation time; each actor has its own key id). What reaches an inbox
is recorded by activity id, with how many times it came, like a real receiver that drops repeats. ``delay`` slows
every inbox answer, so that a flood of deliveries takes long enough to be interrupted.

:class:`BadPeer` is a server that misbehaves (answers slowly, never, with garbage, with redirect loops...), for the
tests of what a bad peer can and cannot do to an instance.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation.httpsig import sign_request
from federation.keys import generate_rsa, load_rsa_private

AP = "application/activity+json"


class Peers:
    def __init__(self, address: str, port: int, count: int, *, delay: float = 0.0) -> None:
        self.address, self.port, self.count, self.delay = address, port, count, delay
        self.keys = generate_rsa()
        self.private = load_rsa_private(self.keys.private_pem)
        self.received: Counter[str] = Counter()
        self.types: dict[str, str] = {}
        self.first_arrival: dict[str, float] = {}  # when each activity first reached its inbox (time.monotonic())
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def actor_id(self, number: int) -> str:
        return f"{self.base_url}/actors/{number}"

    def document(self, number: int) -> dict[str, Any]:
        actor = self.actor_id(number)
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor,
            "type": "Person",
            "preferredUsername": f"peer{number}",
            "name": f"Peer {number}",
            "inbox": f"{actor}/inbox",
            "outbox": f"{actor}/outbox",
            "publicKey": {"id": f"{actor}#main-key", "owner": actor, "publicKeyPem": self.keys.public},
        }

    async def _actor(self, request: Request) -> Response:
        number = int(request.path_params["number"])
        if number >= self.count:
            return JSONResponse({}, status_code=404)
        return JSONResponse(self.document(number), media_type=AP)

    async def _inbox(self, request: Request) -> Response:
        activity = json.loads(await request.body())
        if self.delay:
            await asyncio.sleep(self.delay)
        key = f"{request.path_params['number']} {activity.get('id')}"
        self.received[key] += 1
        self.types[key] = str(activity.get("type"))
        self.first_arrival.setdefault(key, time.monotonic())
        return Response(status_code=202)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/actors/{number:int}", self._actor),
                Route("/actors/{number:int}/inbox", self._inbox, methods=["POST"]),
            ]
        )

    def start(self) -> None:
        config = uvicorn.Config(self.app(), host=self.address, port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the stand-in peers did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(10)

    def signed(self, number: int, url: str, activity: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a POST of ``activity`` by actor ``number`` to ``url``."""
        body = json.dumps(activity).encode()
        headers = sign_request(
            "POST", url, {"Content-Type": AP}, body, f"{self.actor_id(number)}#main-key", self.private
        )
        return body, headers

    def arrived(self, kind: str) -> dict[int, int]:
        """Actor number -> how many times an activity of type ``kind`` reached its inbox (repeats included)."""
        found: Counter[int] = Counter()
        for key, times in self.received.items():
            if self.types[key] == kind:
                found[int(key.split(" ", 1)[0])] += times
        return dict(found)


async def post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the status, or 0 when the server could not be reached or did not answer."""
    try:
        return (await client.post(url, content=body, headers=headers)).status_code
    except httpx.HTTPError:
        return 0


# -- a peer server that misbehaves ------------------------------------------------------------------------------

KINDS = ("slow", "silent", "garbage", "html", "huge", "invalid", "loop", "gone")
DRIP_SECONDS = 2.0
HUGE_BYTES = 2 * 1_048_576


class BadPeer:
    """A peer server that misbehaves, one way per kind, on loopback: a raw asyncio server in its own thread, so
    that it can do what no well-behaved server does (hold a request for ever, answer bytes that are not HTTP).

    - ``GET /.well-known/webfinger?resource=acct:{kind}@{host}`` answers well, naming the actor ``/bad/{kind}``;
    - ``GET /bad/{kind}`` (an actor's or a key's document) misbehaves as ``kind`` says;
    - ``GET /good/{kind}`` is a well-formed ``Person`` (its key: :attr:`keys`) whose inbox ``/good/{kind}/inbox``
      misbehaves as ``kind`` says; ``/good/refused`` has its inbox on :attr:`refused_port`, where nothing listens.

    Kinds: ``slow`` (the status line and headers at once, then a byte of the body every 2 s, never done),
    ``silent`` (the request is read and never answered), ``garbage`` (bytes that are not HTTP), ``html`` (200 with
    an HTML page), ``huge`` (200 with a 2 MiB JSON body, chunked), ``invalid`` (200 with JSON cut in the middle),
    ``loop`` (302 to itself), ``gone`` (410). :attr:`holding` counts the requests held now, by kind;
    :attr:`requests` every request read, by (method, kind).
    """

    def __init__(self, address: str, port: int, refused_port: int) -> None:
        self.address, self.port, self.refused_port = address, port, refused_port
        self.keys = generate_rsa()
        self.private = load_rsa_private(self.keys.private_pem)
        self.holding: Counter[str] = Counter()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def host(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def good_actor(self, kind: str) -> str:
        return f"{self.base_url}/good/{kind}"

    def bad_actor(self, kind: str) -> str:
        return f"{self.base_url}/bad/{kind}"

    def signed(self, actor: str, url: str, activity: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a POST of ``activity`` signed with the key ``{actor}#main-key``."""
        body = json.dumps(activity).encode()
        headers = sign_request("POST", url, {"Content-Type": AP}, body, f"{actor}#main-key", self.private)
        return body, headers

    def document(self, kind: str) -> dict[str, Any]:
        actor = self.good_actor(kind)
        inbox = f"http://{self.address}:{self.refused_port}/inbox" if kind == "refused" else f"{actor}/inbox"
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor,
            "type": "Person",
            "preferredUsername": kind,
            "inbox": inbox,
            "publicKey": {"id": f"{actor}#main-key", "owner": actor, "publicKeyPem": self.keys.public},
        }

    # -- the server --------------------------------------------------------------------------------------------

    def start(self) -> None:
        ready = threading.Event()

        async def serve() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            server = await asyncio.start_server(self._connection, self.address, self.port)
            ready.set()
            await self._stop.wait()
            server.close()
            for writer in list(self._writers):
                writer.close()
            await asyncio.sleep(0.1)

        self.thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
        self.thread.start()
        assert ready.wait(10), "the bad peer did not start"

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self.thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(10)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # the server stops with requests held: end them quietly
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request and answer it; whether the connection may carry another one."""
        first = await reader.read(1)
        if not first.isalpha():  # the end of the connection, or a TLS handshake (an https attempt): hang up
            return False
        head = (first + await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _version = head[0].split(" ", 2)
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdecimal():
                await reader.readexactly(int(value.strip()))
        path, _, query = target.partition("?")
        parts = path.strip("/").split("/")
        if path == "/.well-known/webfinger":
            kind = query.rpartition("acct%3A")[2].rpartition("acct:")[2].split("%40")[0].split("@")[0]
            return await self._json(writer, self._jrd(kind), "application/jrd+json")
        if len(parts) == 2 and parts[0] == "good" and method == "GET":
            return await self._json(writer, self.document(parts[1]), AP)
        if len(parts) >= 2 and parts[0] in ("good", "bad") and (parts[0] == "bad" or parts[-1] == "inbox"):
            kind = parts[1]
            self.requests[(method, kind)] += 1
            return await self._misbehave(reader, writer, kind, target)
        return await self._send(writer, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    def _jrd(self, kind: str) -> dict[str, Any]:
        return {
            "subject": f"acct:{kind}@{self.host}",
            "links": [{"rel": "self", "type": AP, "href": self.bad_actor(kind)}],
        }

    async def _json(self, writer: asyncio.StreamWriter, document: dict[str, Any], kind: str) -> bool:
        body = json.dumps(document).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
        return await self._send(writer, head.encode() + body)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, data: bytes) -> bool:
        writer.write(data)
        await writer.drain()
        return True

    async def _misbehave(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, kind: str, target: str
    ) -> bool:
        if kind in ("slow", "silent"):
            self.holding[kind] += 1
            try:
                if kind == "silent":
                    await reader.read()  # until the client gives up and closes
                else:
                    await self._send(
                        writer, f"HTTP/1.1 200 OK\r\nContent-Type: {AP}\r\nContent-Length: 1000\r\n\r\n{{".encode()
                    )
                    while True:
                        await asyncio.sleep(DRIP_SECONDS)
                        await self._send(writer, b" ")
            finally:
                self.holding[kind] -= 1
            return False
        if kind == "garbage":
            await self._send(writer, b"\x00\x01 this is not HTTP at all \xff\xfe\r\n\r\n")
            return False
        if kind == "html":
            page = b"<!doctype html><html><body><h1>Welcome!</h1></body></html>"
            head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(page)}\r\n\r\n"
            return await self._send(writer, head.encode() + page)
        if kind == "huge":
            await self._send(
                writer, f"HTTP/1.1 200 OK\r\nContent-Type: {AP}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b" " * 65536
            for _sent in range(HUGE_BYTES // len(chunk)):
                await self._send(writer, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            return await self._send(writer, b"0\r\n\r\n")
        if kind == "invalid":
            body = b'{"id": "' + self.base_url.encode() + b'/bad/invalid", "type": "Person", "inbox": '
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {AP}\r\nContent-Length: {len(body)}\r\n\r\n"
            return await self._send(writer, head.encode() + body)
        if kind == "loop":
            head = f"HTTP/1.1 302 Found\r\nLocation: {self.base_url}{target}\r\nContent-Length: 0\r\n\r\n"
            return await self._send(writer, head.encode())
        return await self._send(writer, b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n")
