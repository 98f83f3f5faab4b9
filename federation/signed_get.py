"""Who asks: the remote actor that signed a GET, for objects that are not public (PROTOCOL.md "Fetching and
delivering": time entries are served only to signed requests of those concerned)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from federation.client import FederationClient
from federation.httpsig import SignatureError, signature_key_id, verify_request
from federation.remote import RemoteError, actor_for_key
from instance.models import RemoteActor


async def signer_of(
    db: AsyncSession, client: FederationClient, url: str, headers: Mapping[str, str]
) -> RemoteActor | None:
    """The actor whose key signed this GET of ``url`` (this server's public URL), or None when it is unsigned or
    the signature does not verify."""
    try:
        key_id = signature_key_id(headers)
        actor = await actor_for_key(db, client, key_id)
        verify_request("GET", url, headers, b"", actor.public_key_pem)
    except (SignatureError, RemoteError):
        return None
    return actor
