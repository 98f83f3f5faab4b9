"""Checks shared by both HTTP signature formats (draft-cavage and RFC 9421): errors, body digests, time windows
and the signature primitive itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import http_sf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from federation.keys import KeyFormatError, load_public_pem

# Mastodon's window: a Date at most one hour ahead of our clock, at most one hour and five minutes old.
MAX_AHEAD_SECONDS = 3600
MAX_AGE_SECONDS = 3900
MIN_RSA_BITS = 2048
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class SignatureError(Exception):
    """An HTTP signature is missing, malformed or does not hold; ``reason`` is a short English explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the headers keyed by lowercase name (starlette's ``Headers`` and plain dicts both work)."""
    return {name.lower(): value for name, value in headers.items()}


def needs_digest(method: str, body: bytes) -> bool:
    """A request with a body, or a method that carries one, must sign its body digest."""
    return bool(body) or method.upper() in BODY_METHODS


def request_target(url: str) -> str:
    """The path and query of ``url`` as sent on the request line (``/`` for an empty path)."""
    parts = urlsplit(url)
    target = parts.path or "/"
    return f"{target}?{parts.query}" if parts.query else target


def authority(url: str) -> str:
    """The lowercased host of ``url`` with its port, the default port of the scheme left out."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if parts.port is not None and parts.port != default:
        return f"{host}:{parts.port}"
    return host


def check_host(headers: Mapping[str, str], url: str) -> None:
    """The ``Host`` header must name the server the request was meant for (the authority of ``url``)."""
    host = headers.get("host")
    if host is None:
        raise SignatureError("missing Host header")
    if host.strip().lower() != authority(url):
        raise SignatureError("Host header does not match this server")


def load_key(public_key: str | PublicKey) -> PublicKey:
    """Accept a PEM string or an already loaded key; refuse RSA keys below 2048 bits."""
    if isinstance(public_key, str):
        try:
            public_key = load_public_pem(public_key)
        except KeyFormatError as error:
            raise SignatureError(f"unusable public key: {error.reason}") from error
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        raise SignatureError("RSA key is shorter than 2048 bits")
    return public_key


def decode_base64(value: str) -> bytes:
    """Decode a standard base64 signature value."""
    try:
        return base64.b64decode(value.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise SignatureError("signature is not valid base64") from error


def check_signature(key: PublicKey, message: bytes, signature: bytes) -> None:
    """RSASSA-PKCS1-v1_5 with SHA-256 for RSA keys, pure Ed25519 for Ed25519 keys."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, message)
    except InvalidSignature as error:
        raise SignatureError("signature does not verify with the key") from error


def check_body_digest(headers: Mapping[str, str], body: bytes) -> None:
    """Check every digest header present (``Digest``, RFC 9530 ``Content-Digest``) against the body."""
    checked = False
    if "digest" in headers:
        _check_legacy_digest(headers["digest"], body)
        checked = True
    if "content-digest" in headers:
        _check_content_digest(headers["content-digest"], body)
        checked = True
    if not checked:
        raise SignatureError("missing Digest or Content-Digest header")


def _check_legacy_digest(value: str, body: bytes) -> None:
    supported = 0
    for part in value.split(","):
        algorithm, _, encoded = part.strip().partition("=")
        hasher = _DIGESTS.get(algorithm.strip().lower())
        if hasher is None:
            continue
        supported += 1
        try:
            expected = base64.b64decode(encoded.strip().encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as error:
            raise SignatureError("Digest header is not valid base64") from error
        if not hmac.compare_digest(expected, hasher(body).digest()):
            raise SignatureError("Digest header does not match the body")
    if not supported:
        raise SignatureError("Digest header has no SHA-256 or SHA-512 value")


def _check_content_digest(value: str, body: bytes) -> None:
    try:
        parsed: Any = http_sf.parse(value.encode("ascii"), tltype="dictionary")
    except (http_sf.StructuredFieldError, UnicodeEncodeError) as error:
        raise SignatureError("Content-Digest header is malformed") from error
    supported = 0
    for algorithm, member in parsed.items():
        hasher = _DIGESTS.get(algorithm)
        if hasher is None:
            continue
        supported += 1
        expected = member[0] if isinstance(member, tuple) else member
        if not isinstance(expected, bytes) or not hmac.compare_digest(expected, hasher(body).digest()):
            raise SignatureError("Content-Digest header does not match the body")
    if not supported:
        raise SignatureError("Content-Digest header has no sha-256 or sha-512 value")


def check_moment(moment: float, now: float, what: str) -> None:
    """Refuse a signing time more than an hour ahead or more than an hour and five minutes old."""
    if moment - now > MAX_AHEAD_SECONDS:
        raise SignatureError(f"{what} is too far in the future")
    if now - moment > MAX_AGE_SECONDS:
        raise SignatureError(f"{what} is too old")


def check_expires(expires: float, now: float) -> None:
    """Refuse a signature whose explicit expiry has passed."""
    if now > expires:
        raise SignatureError("signature has expired")


def check_date_header(headers: Mapping[str, str], now: float) -> None:
    """Check that the ``Date`` header is a valid HTTP date within the window."""
    value = headers.get("date")
    if value is None:
        raise SignatureError("missing Date header")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError) as error:
        raise SignatureError("Date header is not a valid HTTP date") from error
    if moment.tzinfo is None:
        raise SignatureError("Date header has no time zone")
    check_moment(moment.timestamp(), now, "Date header")


def timestamp(now: datetime | None) -> float:
    """The POSIX time of ``now`` (an aware datetime), or of the current time."""
    return time.time() if now is None else now.timestamp()
