"""A stand-in peer server for end-to-end tests: many ActivityPub actors of another server, served on loopback.

Each actor ``/actors/{n}`` is a ``Person`` with its own inbox (no shared inbox, so deliveries are not folded) and a
key (one RSA key pair for all, to save the generation time; each actor has its own key id). What reaches an inbox
is recorded by activity id, with how many times it came, like a real receiver that drops repeats. ``delay`` slows
every inbox answer, so that a flood of deliveries takes long enough to be interrupted.
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
