"""Our multibase and Digest helpers write and read exactly what bovine's do (bovine is the reference here)."""

from __future__ import annotations

import pytest
from bovine.crypto.helper import content_digest_sha256
from bovine.crypto.multibase import multibase_58btc_encode, multibase_decode
from hypothesis import given
from hypothesis import strategies as st

from federation.multibase import decode_base58btc, digest_header, encode_base58btc


@given(st.binary(max_size=200))
def test_base58btc_agrees_with_bovine_both_ways(data: bytes) -> None:
    encoded = encode_base58btc(data)
    assert encoded == multibase_58btc_encode(data)
    assert decode_base58btc(encoded) == data == multibase_decode(encoded)


@given(st.binary(max_size=2000))
def test_digest_agrees_with_bovine(body: bytes) -> None:
    assert digest_header(body) == content_digest_sha256(body, prefix="SHA-256")


def test_a_known_digest() -> None:
    assert digest_header(b"moo") == "SHA-256=R9+ukoir89XSJSq/sL1qyWYmN9ZG5t+dXSdLwzbierw="


@pytest.mark.parametrize("value", ["", "u3q2-7w", "z0OIl", "zé", "m" + "A" * 8])
def test_what_is_not_base58btc_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        decode_base58btc(value)
