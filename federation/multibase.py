"""The small encodings the federation writes and reads: base58btc multibase (``z...``, for Multikey documents and
Data Integrity proofs) and the RFC 3230 ``Digest`` header.

bovine has the same helpers, but importing any part of it loads its whole package (an HTTP client and an HTML
parser: about 30 MiB and 0.4 s in every process); the tests check these against bovine's.
"""

from __future__ import annotations

import base64
import hashlib

import based58


def encode_base58btc(data: bytes) -> str:
    """``data`` as base58btc multibase: ``z`` then the bitcoin-alphabet base 58."""
    return "z" + based58.b58encode(data).decode("ascii")


def decode_base58btc(value: str) -> bytes:
    """The bytes of a base58btc multibase value; ``ValueError`` for another base or characters outside base 58."""
    if not value.startswith("z"):
        raise ValueError("not base58btc multibase")
    try:
        return bytes(based58.b58decode(value[1:].encode("ascii")))
    except UnicodeEncodeError as error:
        raise ValueError("not base58") from error


def digest_header(body: bytes) -> str:
    """The ``Digest`` header of ``body``: ``SHA-256=`` and the base64 of its SHA-256."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
