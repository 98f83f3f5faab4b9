"""Other servers follow an association: Mastodon, Lemmy, Mobilizon and a Fedify server, each with the Follow it
sends, signed the way it signs, from an actor document in its shape (``tests/data/interop/``); the association
accepts, and the ``Accept`` that reaches the follower's server has the shape that server reads.

Each remote server is a small real ASGI app reached through the pair's router: it serves the actor document
(with a key made for the test) and records what is posted to its inboxes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation import keys, proofs
from federation.httpsig import verify_request
from instance.models import Follow, FollowState, InboxItem
from tests.federation_support import AP, Pair

DATA = Path(__file__).parent / "data" / "interop"
VECTOR = Path(__file__).parent / "federation" / "data" / "fedify-follow-with-proof.json"  # as made by Fedify 2.3.6
TARGET = "https://b.test/associations/restos"
SERVERS = ("mastodon", "lemmy", "mobilizon", "fedify")


@dataclass
class RemoteServer:
    """One remote server: its actor document, its keys, and the requests posted to it."""

    sample: dict[str, Any]
    rsa_key: rsa.RSAPrivateKey
    ed25519_pem: str
    actor: dict[str, Any]
    posted: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return str(urlsplit(self.actor["id"]).hostname)

    def app(self) -> Starlette:
        actor_path = urlsplit(self.actor["id"]).path

        async def actor(request: Request) -> Response:
            return JSONResponse(self.actor, media_type=AP)

        async def inbox(request: Request) -> Response:
            self.posted.append((str(request.url), dict(request.headers), await request.body()))
            return Response(status_code=202)

        inboxes = {urlsplit(self.actor["inbox"]).path, urlsplit(self.actor["endpoints"]["sharedInbox"]).path}
        routes = [Route(actor_path, actor), *(Route(path, inbox, methods=["POST"]) for path in inboxes)]
        return Starlette(routes=routes)


def fill(value: Any, names: dict[str, str]) -> Any:
    """Replace the ``{NAME}`` placeholders of a sample."""
    text = json.dumps(value)
    for name, replacement in names.items():
        text = text.replace("{" + name + "}", json.dumps(replacement)[1:-1])
    return json.loads(text)


def load_server(name: str) -> RemoteServer:
    sample = json.loads((DATA / f"{name}.json").read_text())
    pair_rsa, pair_ed = keys.generate_rsa(), keys.generate_ed25519()
    rsa_key = keys.load_rsa_private(pair_rsa.private_pem)
    names = {"PUBLIC_KEY_PEM": pair_rsa.public, "PUBLIC_KEY_MULTIBASE": pair_ed.public, "TARGET": TARGET}
    return RemoteServer(fill(sample, names), rsa_key, pair_ed.private_pem, fill(sample["actor"], names))


# -- signing the way each server signs -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign_cavage(server: RemoteServer, url: str, body: bytes) -> dict[str, str]:
    spec = server.sample["signature"]
    parts = urlsplit(url)
    values = {
        "content-type": spec["content_type"],
        "host": str(parts.netloc),
        "date": format_datetime(datetime.now(UTC), usegmt=True),
        "digest": "SHA-256=" + _b64(hashlib.sha256(body).digest()),
        "content-length": str(len(body)),
    }
    lines = [
        f"(request-target): post {parts.path}" if name == "(request-target)" else f"{name}: {values[name]}"
        for name in spec["headers"]
    ]
    signature = server.rsa_key.sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
    values["signature"] = (
        f'keyId="{spec["key_id"]}",algorithm="{spec["algorithm"]}",headers="{" ".join(spec["headers"])}",'
        f'signature="{_b64(signature)}"'
    )
    return values


def sign_rfc9421(server: RemoteServer, url: str, body: bytes) -> dict[str, str]:
    spec = server.sample["signature"]
    parts = urlsplit(url)
    values = {
        "content-type": spec["content_type"],
        "host": str(parts.netloc),
        "date": format_datetime(datetime.now(UTC), usegmt=True),
        "content-digest": f"sha-256=:{_b64(hashlib.sha256(body).digest())}:",
    }
    derived = {"@method": "POST", "@target-uri": url, "@authority": str(parts.netloc)}
    created = int(datetime.now(UTC).timestamp())
    covered = " ".join(f'"{name}"' for name in spec["components"])
    params = f'({covered});alg="{spec["algorithm"]}";keyid="{spec["key_id"]}";created={created}'
    lines = [f'"{name}": {derived.get(name) or values[name]}' for name in spec["components"]]
    lines.append(f'"@signature-params": {params}')
    signature = server.rsa_key.sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
    values["signature-input"] = f"sig1={params}"
    values["signature"] = f"sig1=:{_b64(signature)}:"
    return values


def follow_of(server: RemoteServer) -> dict[str, Any]:
    follow: dict[str, Any] = copy.deepcopy(server.sample["follow"])
    method = server.sample["signature"].get("proof_method")
    if method:
        follow = proofs.sign(follow, server.ed25519_pem, method)
    return follow


async def post_follow(pair: Pair, server: RemoteServer, follow: dict[str, Any]) -> int:
    path = "/associations/restos/inbox"
    body = json.dumps(follow).encode()
    sign = sign_rfc9421 if server.sample["signature"]["scheme"] == "rfc9421" else sign_cavage
    headers = sign(server, pair.b.base + path, body)
    async with pair.b.browser() as http:
        response = await http.post(path, content=body, headers=headers)
    return response.status_code


@pytest.fixture
async def restos(pair: Pair) -> Pair:
    """The open association restos on b.test."""
    await pair.b.user("carol")
    await pair.b.association("carol", "restos")
    return pair


async def group_key(pair: Pair) -> str:
    async with pair.b.browser() as http:
        document = (await http.get("/associations/restos", headers={"Accept": AP})).json()
    return str(document["publicKey"]["publicKeyPem"])


@pytest.mark.parametrize("name", SERVERS)
async def test_their_follow_is_accepted_and_the_accept_has_the_shape_they_read(restos: Pair, name: str) -> None:
    server = load_server(name)
    restos.router.add(server.host, server.app(), "192.0.2.50")
    follow = follow_of(server)

    status = await post_follow(restos, server, follow)
    await restos.settle()

    assert status == 202
    [row] = await restos.b.rows(Follow)
    assert (row.follower_uri, row.followed_uri, row.state) == (server.actor["id"], TARGET, FollowState.ACCEPTED)
    [(url, headers, body)] = server.posted
    assert url == server.actor["endpoints"]["sharedInbox"]
    accept = json.loads(body)
    assert accept["type"] == "Accept"
    assert accept["actor"] == TARGET  # the followed Group answers (Lemmy and Mastodon check it)
    assert urlsplit(accept["id"]).netloc == "b.test"  # on the Group's origin (Lemmy checks it)
    assert server.actor["id"] in accept["to"]
    assert accept["object"] == {"id": follow["id"], "type": "Follow", "actor": server.actor["id"], "object": TARGET}
    assert "https://www.w3.org/ns/activitystreams" in json.dumps(accept["@context"])
    # signed the way all four verify: draft-cavage rsa-sha256 by the Group's key over the usual headers
    assert headers["content-type"] == AP
    assert f'keyId="{TARGET}#main-key"' in headers["signature"]
    assert 'headers="(request-target) host date digest"' in headers["signature"]
    verify_request("POST", url, headers, body, await group_key(restos))


async def test_a_follow_with_a_broken_proof_is_refused(restos: Pair) -> None:
    server = load_server("fedify")
    restos.router.add(server.host, server.app(), "192.0.2.50")
    follow = {**follow_of(server), "to": "https://b.test/associations/other"}

    assert await post_follow(restos, server, follow) == 401
    assert await restos.b.count(InboxItem) == 0


async def test_the_follow_captured_from_fedify_with_its_proof_is_accepted(restos: Pair) -> None:
    """The Follow Fedify 2.3.6 sent (``tests/federation/data``), proof and all, from its actor document; only the RSA
    key is ours, since the HTTP signature is made again for this request."""
    vector = json.loads(VECTOR.read_text())
    pair_rsa = keys.generate_rsa()
    actor = copy.deepcopy(vector["actor"])
    actor["publicKey"]["publicKeyPem"] = pair_rsa.public
    covered = ["(request-target)", "host", "date", "digest"]
    signature = {"scheme": "draft-cavage", "algorithm": "rsa-sha256", "content_type": AP, "headers": covered}
    sample = {"signature": {**signature, "key_id": actor["publicKey"]["id"]}}
    server = RemoteServer(sample, keys.load_rsa_private(pair_rsa.private_pem), "", actor)
    restos.router.add(server.host, server.app(), "192.0.2.51")

    accepted = await post_follow(restos, server, vector["activity"])
    refused = await post_follow(restos, server, {**vector["activity"], "to": "http://127.0.0.2:8002/users/carol"})

    assert (accepted, refused) == (202, 401)
    [item] = await restos.b.rows(InboxItem)
    assert item.activity_id == vector["activity"]["id"]
