"""Key generation, Multikey encoding against known vectors, and private keys sealed at rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from federation import jsonld, keys
from federation.multibase import decode_base58btc as multibase_decode

VECTOR = Path(__file__).parent / "data" / "fedify-follow-with-proof.json"
SECRET = "instance secret for tests"
# W3C "Data Integrity EdDSA Cryptosuites v1.0" test key pair (secretKeyMultibase / publicKeyMultibase).
W3C_SECRET = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
W3C_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def fedify_actor() -> dict[str, Any]:
    actor: dict[str, Any] = json.loads(VECTOR.read_text())["actor"]
    return actor


def test_rsa_pair_is_2048_bits_and_matches() -> None:
    pair = keys.generate_rsa()
    private = keys.load_rsa_private(pair.private_pem)
    assert private.key_size == 2048
    assert pair.public.startswith("-----BEGIN PUBLIC KEY-----")
    assert keys.public_pem(private.public_key()) == pair.public
    assert isinstance(keys.load_public_pem(pair.public), rsa.RSAPublicKey)


def test_ed25519_pair_publishes_a_multikey() -> None:
    pair = keys.generate_ed25519()
    private = keys.load_ed25519_private(pair.private_pem)
    assert pair.public.startswith("z6Mk")
    assert keys.decode_multikey(pair.public) == private.public_key()


def test_multikey_matches_the_w3c_test_key() -> None:
    seed = multibase_decode(W3C_SECRET)
    assert seed[:2] == b"\x80\x26"  # ed25519-priv multicodec
    private = ed25519.Ed25519PrivateKey.from_private_bytes(seed[2:])
    assert keys.encode_multikey(private.public_key()) == W3C_PUBLIC


def test_fedify_multikey_decodes_and_encodes_back() -> None:
    methods = {m["id"]: m for m in jsonld.as_list(fedify_actor()["assertionMethod"])}
    value = methods["http://127.0.0.1:8001/users/alice#multikey-2"]["publicKeyMultibase"]
    key = keys.decode_multikey(value)
    assert keys.encode_multikey(key) == value


def test_rsa_multikey_is_refused() -> None:
    methods = {m["id"]: m for m in jsonld.as_list(fedify_actor()["assertionMethod"])}
    with pytest.raises(keys.KeyFormatError, match="not an Ed25519 public key"):
        keys.decode_multikey(methods["http://127.0.0.1:8001/users/alice#multikey-1"]["publicKeyMultibase"])


@pytest.mark.parametrize("value", ["", "u6MkrJVn", "z0OIl", "z6Mk"])
def test_malformed_multikey_is_refused(value: str) -> None:
    with pytest.raises(keys.KeyFormatError):
        keys.decode_multikey(value)


def test_private_key_round_trip_through_sealing() -> None:
    pair = keys.generate_ed25519()
    sealed = keys.seal_private_key(pair.private_pem, SECRET, context="https://a.test/users/alice#ed25519")
    assert pair.private_pem not in sealed
    assert sealed != keys.seal_private_key(pair.private_pem, SECRET, context="https://a.test/users/alice#ed25519")
    opened = keys.open_private_key(sealed, SECRET, context="https://a.test/users/alice#ed25519")
    assert opened == pair.private_pem


def test_wrong_secret_does_not_open() -> None:
    sealed = keys.seal_private_key(keys.generate_ed25519().private_pem, SECRET)
    with pytest.raises(keys.KeyFormatError, match="does not open"):
        keys.open_private_key(sealed, "another secret")


def test_wrong_context_does_not_open() -> None:
    sealed = keys.seal_private_key(keys.generate_ed25519().private_pem, SECRET, context="key-a")
    with pytest.raises(keys.KeyFormatError, match="does not open"):
        keys.open_private_key(sealed, SECRET, context="key-b")


def test_tampered_or_foreign_values_do_not_open() -> None:
    sealed = keys.seal_private_key(keys.generate_ed25519().private_pem, SECRET)
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises(keys.KeyFormatError):
        keys.open_private_key(tampered, SECRET)
    with pytest.raises(keys.KeyFormatError, match="unknown sealed key format"):
        keys.open_private_key("-----BEGIN PRIVATE KEY-----", SECRET)
    with pytest.raises(keys.KeyFormatError, match="truncated"):
        keys.open_private_key("v1.AAAA", SECRET)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(keys.KeyFormatError, match="secret is empty"):
        keys.seal_private_key(keys.generate_ed25519().private_pem, "")


def test_key_type_confusion_is_refused() -> None:
    ed = keys.generate_ed25519().private_pem
    with pytest.raises(keys.KeyFormatError, match="not an RSA private key"):
        keys.load_rsa_private(ed)
    with pytest.raises(keys.KeyFormatError, match="not a PEM"):
        keys.load_public_pem("not a key")
