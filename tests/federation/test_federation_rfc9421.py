"""RFC 9421 HTTP message signatures, inbound: the RFC's own test vector, and signatures built here by hand."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from federation import keys, rfc9421
from federation.httpsig import SignatureError, signature_key_id, verify_request

URL = "https://b.test/associations/restos/inbox"
BODY = b'{"type": "Create"}'
NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
CREATED = int(NOW.timestamp()) - 10

# RFC 9421 appendix B.1.4 (test-key-ed25519) and B.2.6 (signing a request with Ed25519).
RFC_PUBLIC = "\n".join(
    [
        "-----BEGIN PUBLIC KEY-----",
        "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=",
        "-----END PUBLIC KEY-----",
    ]
)
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+"
    "TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
    "Content-Length": "18",
    "Signature-Input": 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");'
    'created=1618884473;keyid="test-key-ed25519"',
    "Signature": "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:",
}


def test_rfc_vector_signature_base_verifies() -> None:
    lowered = {name.lower(): value for name, value in RFC_HEADERS.items()}
    parsed = rfc9421.parse(lowered)
    assert parsed.key_id == "test-key-ed25519"
    base = rfc9421.signature_base(parsed, "POST", "https://example.com/foo?param=Value&Pet=dog", lowered)
    assert base.decode().splitlines()[:4] == [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@authority": example.com',
    ]
    key = keys.load_public_pem(RFC_PUBLIC)
    assert isinstance(key, ed25519.Ed25519PublicKey)
    key.verify(parsed.signature, base)


def test_rfc_vector_is_refused_by_our_policy_without_content_digest() -> None:
    when = datetime.fromtimestamp(1618884480, UTC)
    with pytest.raises(SignatureError, match="does not cover content-digest"):
        verify_request(
            "POST", "https://example.com/foo?param=Value&Pet=dog", RFC_HEADERS, b'{"hello": "world"}', RFC_PUBLIC, when
        )


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def signed(
    sign: object, components: list[str], params: str, body: bytes = BODY, alg_headers: dict[str, str] | None = None
) -> dict[str, str]:
    """Build the signature base by hand from RFC 9421 section 2.5, then sign it with ``sign(bytes) -> bytes``."""
    headers = {"host": "b.test", "content-digest": content_digest(body), **(alg_headers or {})}
    values = {"@method": "POST", "@target-uri": URL, "@authority": "b.test", "@path": "/associations/restos/inbox"}
    values.update(headers)
    inner = "(" + " ".join(f'"{name}"' for name in components) + ")" + params
    base = "\n".join([*(f'"{name}": {values[name]}' for name in components), f'"@signature-params": {inner}'])
    raw = sign(base.encode())  # type: ignore[operator]
    return {**headers, "Signature-Input": f"sig1={inner}", "Signature": f"sig1=:{base64.b64encode(raw).decode()}:"}


COMPONENTS = ["@method", "@target-uri", "content-digest"]


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def rsa_pair() -> keys.KeyPair:
    return keys.generate_rsa()


def test_ed25519_signature_verifies(ed_key: ed25519.Ed25519PrivateKey) -> None:
    headers = signed(ed_key.sign, COMPONENTS, f';created={CREATED};keyid="https://a.test/users/alice#ed";alg="ed25519"')
    assert signature_key_id(headers) == "https://a.test/users/alice#ed"
    verified = verify_request("POST", URL, headers, BODY, ed_key.public_key(), NOW)
    assert verified.scheme == "rfc9421"
    assert verified.covered == tuple(COMPONENTS)


def test_rsa_signature_verifies(rsa_pair: keys.KeyPair) -> None:
    private = keys.load_rsa_private(rsa_pair.private_pem)

    def sign(data: bytes) -> bytes:
        return private.sign(data, padding.PKCS1v15(), hashes.SHA256())

    params = f';created={CREATED};keyid="https://a.test/users/alice#main-key";alg="rsa-v1_5-sha256"'
    verify_request("POST", URL, signed(sign, COMPONENTS, params), BODY, rsa_pair.public, NOW)
    verify_request("POST", URL, signed(sign, COMPONENTS, f';created={CREATED};keyid="k"'), BODY, rsa_pair.public, NOW)


@pytest.mark.parametrize(
    ("components", "params", "reason"),
    [
        (COMPONENTS, ';keyid="k"', "signature has no created parameter"),
        (COMPONENTS, f';created={CREATED - 4000};keyid="k"', "signature created is too old"),
        (COMPONENTS, f';created={CREATED};expires={CREATED + 5};keyid="k"', "signature has expired"),
        (
            COMPONENTS,
            f';created={CREATED};keyid="k";alg="rsa-v1_5-sha256"',
            "rsa-v1_5-sha256 signature but the key is ed25519",
        ),
        (
            COMPONENTS,
            f';created={CREATED};keyid="k";alg="hmac-sha256"',
            "unsupported signature algorithm 'hmac-sha256'",
        ),
        (["@target-uri", "content-digest"], f';created={CREATED};keyid="k"', "does not cover @method"),
        (["@method", "content-digest"], f';created={CREATED};keyid="k"', "does not cover the target URI"),
        (["@method", "@target-uri"], f';created={CREATED};keyid="k"', "does not cover content-digest"),
    ],
)
def test_rule_breaks_are_refused(
    ed_key: ed25519.Ed25519PrivateKey, components: list[str], params: str, reason: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_request("POST", URL, signed(ed_key.sign, components, params), BODY, ed_key.public_key(), NOW)
    assert reason in caught.value.reason


def test_modified_body_and_wrong_key_are_refused(ed_key: ed25519.Ed25519PrivateKey) -> None:
    headers = signed(ed_key.sign, COMPONENTS, f';created={CREATED};keyid="k"')
    with pytest.raises(SignatureError, match="Content-Digest header does not match the body"):
        verify_request("POST", URL, headers, b'{"type": "Delete"}', ed_key.public_key(), NOW)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_request("POST", URL, headers, BODY, ed25519.Ed25519PrivateKey.generate().public_key(), NOW)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_request("POST", "https://b.test/inbox", headers, BODY, ed_key.public_key(), NOW)


def test_malformed_headers_are_refused(ed_key: ed25519.Ed25519PrivateKey) -> None:
    headers = signed(ed_key.sign, COMPONENTS, f';created={CREATED};keyid="k"')
    with pytest.raises(SignatureError, match="Signature-Input header is malformed"):
        verify_request("POST", URL, {**headers, "Signature-Input": "sig1=(((("}, BODY, ed_key.public_key(), NOW)
    with pytest.raises(SignatureError, match="no signature with a keyid"):
        verify_request("POST", URL, {**headers, "Signature": "other=:AAAA:"}, BODY, ed_key.public_key(), NOW)
