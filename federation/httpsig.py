"""HTTP signatures: sign outgoing requests (draft-cavage, ``rsa-sha256``) and verify incoming ones.

Incoming requests may be signed with draft-cavage (``Signature`` header, algorithms ``rsa-sha256`` and ``hs2019``)
or RFC 9421 (``Signature-Input`` + ``Signature``). The rules are those of PROTOCOL.md: ``(request-target)``,
``host``, ``date`` and (for requests with a body) ``digest`` must be covered, the body must match its digest,
``Date`` must be at most 1 h ahead and 1 h 5 min old, and ``(created)`` / ``(expires)`` are checked when present.

Use :func:`signature_key_id` to learn which key to fetch, then :func:`verify_request` with that key.
``url`` must be this server's public URL for the request, with the raw (still percent-encoded) path and query:
the ``Host`` header must match its authority, so a request signed for another server is refused.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federation import rfc9421
from federation.httpsig_common import (
    PublicKey,
    SignatureError,
    authority,
    check_body_digest,
    check_date_header,
    check_expires,
    check_host,
    check_moment,
    check_signature,
    decode_base64,
    load_key,
    lower_headers,
    needs_digest,
    request_target,
    timestamp,
)
from federation.keys import load_rsa_private
from federation.multibase import digest_header

__all__ = [
    "CavageSignature",
    "SignatureError",
    "VerifiedRequest",
    "parse_cavage",
    "sign_request",
    "signature_key_id",
    "verify_request",
]

_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^\s,"]*))\s*(?:,|$)')
_ALGORITHMS = frozenset({"rsa-sha256", "hs2019"})


@dataclass(frozen=True)
class CavageSignature:
    """A parsed draft-cavage ``Signature`` header."""

    key_id: str
    algorithm: str | None
    headers: tuple[str, ...]
    signature: bytes
    created: str | None = None
    expires: str | None = None


@dataclass(frozen=True)
class VerifiedRequest:
    """What a verified signature tells: the key that signed, the format, and the covered components."""

    key_id: str
    scheme: str
    covered: tuple[str, ...]


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    key_id: str,
    private_key: str | rsa.RSAPrivateKey,
    now: datetime | None = None,
) -> dict[str, str]:
    """Return the headers to send: ``headers`` plus ``Host``, ``Date``, ``Digest`` (with a body) and ``Signature``.

    GETs cover ``(request-target) host date``; requests with a body also cover ``digest``.
    """
    key = load_rsa_private(private_key) if isinstance(private_key, str) else private_key
    managed = {"host", "date", "digest", "signature"}
    result = {name: value for name, value in (headers or {}).items() if name.lower() not in managed}
    result["Host"] = authority(url)
    result["Date"] = format_datetime(now or datetime.now(UTC), usegmt=True)
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        result["Digest"] = digest_header(body)
        covered.append("digest")
    values = lower_headers(result)
    lines = [_line(name, method, url, values, None) for name in covered]
    signature = key.sign("\n".join(lines).encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    result["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",'
        f'signature="{base64.b64encode(signature).decode("ascii")}"'
    )
    return result


def _cavage_header(headers: Mapping[str, str]) -> str | None:
    if "signature" in headers and "signature-input" not in headers:
        return headers["signature"]
    auth = headers.get("authorization", "")
    if auth[:10].lower() == "signature ":
        return auth[10:]
    return None


def parse_cavage(value: str) -> CavageSignature:
    """Parse a draft-cavage ``Signature`` header value (or the part after ``Authorization: Signature``)."""
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _PARAM.match(value, position)
        if match is None or match.end() == position:
            raise SignatureError("Signature header is malformed")
        name = match.group(1)
        if name in params:
            raise SignatureError(f"Signature header repeats {name}")
        params[name] = match.group(2) if match.group(2) is not None else match.group(3)
        position = match.end()
    for required in ("keyId", "signature"):
        if not params.get(required):
            raise SignatureError(f"Signature header has no {required}")
    covered = tuple(params.get("headers", "date").lower().split())
    if not covered:
        raise SignatureError("Signature header covers no headers")
    return CavageSignature(
        key_id=params["keyId"],
        algorithm=params.get("algorithm"),
        headers=covered,
        signature=decode_base64(params["signature"]),
        created=params.get("created"),
        expires=params.get("expires"),
    )


def _number(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError as error:
        raise SignatureError(f"Signature header {name} is not a number") from error


def signature_key_id(headers: Mapping[str, str]) -> str:
    """The ``keyId`` (draft-cavage) or ``keyid`` (RFC 9421) of the request's signature: the key to fetch."""
    lowered = lower_headers(headers)
    if "signature-input" in lowered:
        return rfc9421.parse(lowered).key_id
    value = _cavage_header(lowered)
    if value is None:
        raise SignatureError("request is not signed")
    return parse_cavage(value).key_id


def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    public_key: str | PublicKey,
    now: datetime | None = None,
) -> VerifiedRequest:
    """Verify the request's signature with ``public_key`` (PEM or loaded key); raise ``SignatureError`` if not."""
    lowered = lower_headers(headers)
    key = load_key(public_key)
    if "signature-input" in lowered:
        parsed = rfc9421.parse(lowered)
        rfc9421.verify(parsed, method, url, lowered, body, key, timestamp(now))
        return VerifiedRequest(key_id=parsed.key_id, scheme="rfc9421", covered=parsed.component_names)
    value = _cavage_header(lowered)
    if value is None:
        raise SignatureError("request is not signed")
    signature = parse_cavage(value)
    _verify_cavage(signature, method, url, lowered, body, key, timestamp(now))
    return VerifiedRequest(key_id=signature.key_id, scheme="draft-cavage", covered=signature.headers)


def _verify_cavage(
    signature: CavageSignature,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    key: PublicKey,
    now: float,
) -> None:
    _check_algorithm(signature.algorithm, key)
    _check_coverage(signature.headers, method, body)
    check_host(headers, url)
    if "date" in signature.headers:
        check_date_header(headers, now)
    if signature.created is not None:
        check_moment(_number(signature.created, "created"), now, "signature (created)")
    if signature.expires is not None:
        check_expires(_number(signature.expires, "expires"), now)
    if needs_digest(method, body):
        check_body_digest(headers, body)
    lines = [_line(name, method, url, headers, signature) for name in signature.headers]
    check_signature(key, "\n".join(lines).encode("utf-8"), signature.signature)


def _check_algorithm(algorithm: str | None, key: PublicKey) -> None:
    if algorithm is not None and algorithm.lower() not in _ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    if (algorithm or "").lower() == "rsa-sha256" and not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("rsa-sha256 signature but the key is not RSA")


def _check_coverage(covered: tuple[str, ...], method: str, body: bytes) -> None:
    required = ["(request-target)", "host"]
    for name in required:
        if name not in covered:
            raise SignatureError(f"signature does not cover {name}")
    if "date" not in covered and "(created)" not in covered:
        raise SignatureError("signature does not cover date")
    if needs_digest(method, body) and "digest" not in covered and "content-digest" not in covered:
        raise SignatureError("signature does not cover digest")


def _line(name: str, method: str, url: str, headers: Mapping[str, str], signature: CavageSignature | None) -> str:
    if name == "(request-target)":
        return f"(request-target): {method.lower()} {request_target(url)}"
    if name in ("(created)", "(expires)"):
        value = None if signature is None else getattr(signature, name[1:-1])
        if value is None:
            raise SignatureError(f"signature covers {name} without its parameter")
        return f"{name}: {value}"
    if name.startswith("("):
        raise SignatureError(f"unsupported pseudo-header {name}")
    if name not in headers:
        raise SignatureError(f"covered header {name} is missing")
    return f"{name}: {headers[name].strip()}"
