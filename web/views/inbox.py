"""ActivityPub inboxes: ``POST /inbox`` (shared), ``/actor/inbox``, ``/users/{handle}/inbox`` and
``/associations/{handle}/inbox``. They verify, store and answer 202; the worker handles what was stored.

Here: the per-address rate limit (429 with ``Retry-After``), the recipient (404), the 1 MiB cap read in chunks
(413) and the content type (415); ``federation.receive`` does the rest. The URL the signature is checked against
is the public base URL plus the raw path and query the client sent. An inbox found to exist is not looked up
again for ``RECIPIENT_SECONDS``: one deleted meanwhile answers 202 that long, and the worker finds no recipient.
"""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from federation import receive
from federation.client import MAX_BODY_BYTES, is_activitypub_type
from federation.discovery import public_association, public_user
from federation.jsonld import id_of
from federation.policy import domain_of
from federation.runtime import Federation

log = logging.getLogger(__name__)

RECIPIENT_SECONDS = 10.0  # an existing recipient is not looked up again for that long
RECIPIENTS_KEPT = 10_000


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def public_url(request: Request, base_url: str) -> str:
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    path = raw_path.split(b"?", 1)[0].decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return base_url.rstrip("/") + path + (f"?{query}" if query else "")


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it exceeds the cap (read in chunks, never all at once)."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _recipient_exists(request: Request, federation: Federation) -> bool:
    """Whether the inbox's person or association exists (a yes is remembered a few seconds: ``RECIPIENT_SECONDS``)."""
    handle = request.path_params.get("handle")
    if handle is None:
        return True
    path = request.url.path
    known = federation.inbox_recipients
    if known.get(path, 0.0) > time.monotonic():
        return True
    finder = public_user if path.startswith("/users/") else public_association
    async with request.app.state.instance.sessions() as db:
        found = await finder(db, handle) is not None
    if found:
        if len(known) >= RECIPIENTS_KEPT:
            known.clear()
        known[path] = time.monotonic() + RECIPIENT_SECONDS
    return found


async def inbox(request: Request) -> Response:
    federation: Federation = request.app.state.federation
    address = f"ip:{request.client.host if request.client else ''}"
    wait = federation.inbox_limiter.retry_after(address)
    if wait:
        return _error(429, "too many requests", {"Retry-After": str(wait)})
    federation.inbox_limiter.hit(address)
    if not await _recipient_exists(request, federation):
        return _error(404, "no such inbox")
    body = await _read_body(request)
    if body is None:
        return _error(413, "the body is larger than 1 MiB")
    if not is_activitypub_type(request.headers.get("content-type", "")):
        return _error(415, "send application/activity+json")
    incoming = receive.Incoming(
        "POST", public_url(request, federation.settings.base_url), request.headers, body, request.url.path
    )
    async with federation.sessions() as db:
        try:
            domain = f"domain:{domain_of(id_of(receive.parse_activity(body)['actor']) or '')}"
            wait = federation.inbox_limiter.retry_after(domain)
            if wait:
                return _error(429, "too many requests from this domain", {"Retry-After": str(wait)})
            federation.inbox_limiter.hit(domain)
            await receive.receive(db, federation.client, incoming, federation.signers, federation.inbox_writer)
        except receive.Refused as refused:
            log.info("inbox %s refused (%d): %s", request.url.path, refused.status, refused.reason)
            return _error(refused.status, refused.reason)
    return Response(status_code=202)


routes: list[BaseRoute] = [
    Route("/inbox", inbox, methods=["POST"], name="shared_inbox"),
    Route("/actor/inbox", inbox, methods=["POST"], name="instance_inbox"),
    Route("/users/{handle}/inbox", inbox, methods=["POST"], name="user_inbox"),
    Route("/associations/{handle}/inbox", inbox, methods=["POST"], name="association_inbox"),
]
