"""draft-cavage HTTP signatures: what we sign verifies, and each rule of PROTOCOL.md refuses with a reason.

Signatures with chosen parameters are built here by hand from the draft's signing-string rules, so the verifier is
checked against the spec and not only against our own signer.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federation import keys
from federation.httpsig import SignatureError, sign_request, signature_key_id, verify_request

URL = "https://b.test/associations/restos/inbox"
KEY_ID = "https://a.test/users/alice#main-key"
BODY = b'{"type": "Follow", "actor": "https://a.test/users/alice"}'
NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair() -> keys.KeyPair:
    return keys.generate_rsa()


@pytest.fixture(scope="module")
def other_pair() -> keys.KeyPair:
    return keys.generate_rsa()


def by_hand(
    private_pem: str,
    covered: list[str],
    headers: dict[str, str],
    *,
    method: str = "post",
    target: str = "/associations/restos/inbox",
    algorithm: str = "rsa-sha256",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Sign like a remote server would: the signing string is built from the draft, not from our module."""
    params = extra or {}
    values = {name.lower(): value for name, value in headers.items()}
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {method} {target}")
        elif name in ("(created)", "(expires)"):
            lines.append(f"{name}: {params[name[1:-1]]}")
        else:
            lines.append(f"{name}: {values[name]}")
    key = keys.load_rsa_private(private_pem)
    raw = key.sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
    parts = [f'keyId="{KEY_ID}"', f'algorithm="{algorithm}"', f'headers="{" ".join(covered)}"']
    parts += [f"{name}={value}" for name, value in params.items()]
    parts.append(f'signature="{base64.b64encode(raw).decode()}"')
    return {**headers, "Signature": ",".join(parts)}


def base_headers(body: bytes = BODY, when: datetime = NOW) -> dict[str, str]:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return {"Host": "b.test", "Date": format_datetime(when, usegmt=True), "Digest": f"SHA-256={digest}"}


def refused(reason: str, headers: dict[str, str], key: str, body: bytes = BODY, method: str = "POST") -> None:
    with pytest.raises(SignatureError) as caught:
        verify_request(method, URL, headers, body, key, now=NOW)
    assert reason in caught.value.reason


def test_our_signed_post_verifies(pair: keys.KeyPair) -> None:
    headers = sign_request(
        "POST", URL, {"Content-Type": "application/activity+json"}, BODY, KEY_ID, pair.private_pem, NOW
    )
    assert headers["Host"] == "b.test"
    assert headers["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    assert signature_key_id(headers) == KEY_ID
    verified = verify_request("POST", URL, headers, BODY, pair.public, now=NOW)
    assert verified.key_id == KEY_ID
    assert verified.covered == ("(request-target)", "host", "date", "digest")


def test_our_signature_matches_the_draft_signing_string(pair: keys.KeyPair) -> None:
    headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW)
    signing_string = (
        "(request-target): post /associations/restos/inbox\n"
        f"host: b.test\ndate: {headers['Date']}\ndigest: {headers['Digest']}"
    )
    raw = base64.b64decode(headers["Signature"].split('signature="')[1].rstrip('"'))
    public = keys.load_public_pem(pair.public)
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(raw, signing_string.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_our_signed_get_verifies(pair: keys.KeyPair) -> None:
    url = "https://b.test:8443/associations/restos/catalog?page=2"
    headers = sign_request("GET", url, {"Accept": "application/activity+json"}, None, KEY_ID, pair.private_pem, NOW)
    assert "Digest" not in headers
    assert headers["Host"] == "b.test:8443"
    assert 'headers="(request-target) host date"' in headers["Signature"]
    assert verify_request("GET", url, headers, b"", pair.public, now=NOW).covered == (
        "(request-target)",
        "host",
        "date",
    )


def test_date_within_the_window_verifies(pair: keys.KeyPair) -> None:
    for shift in (timedelta(minutes=-64), timedelta(minutes=59)):
        headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW + shift)
        verify_request("POST", URL, headers, BODY, pair.public, now=NOW)


def test_wrong_digest_is_refused(pair: keys.KeyPair) -> None:
    headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW)
    headers["Digest"] = "SHA-256=" + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    refused("Digest header does not match the body", headers, pair.public)


def test_modified_body_is_refused(pair: keys.KeyPair) -> None:
    headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW)
    refused("Digest header does not match the body", headers, pair.public, body=BODY.replace(b"Follow", b"Undo"))


def test_missing_digest_header_is_refused(pair: keys.KeyPair) -> None:
    headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW)
    del headers["Digest"]
    refused("missing Digest or Content-Digest header", headers, pair.public)


def test_old_date_is_refused(pair: keys.KeyPair) -> None:
    headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW - timedelta(minutes=66))
    refused("Date header is too old", headers, pair.public)


def test_future_date_is_refused(pair: keys.KeyPair) -> None:
    headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW + timedelta(minutes=61))
    refused("Date header is too far in the future", headers, pair.public)


def test_unparsable_date_is_refused(pair: keys.KeyPair) -> None:
    headers = by_hand(
        pair.private_pem, ["(request-target)", "host", "date", "digest"], {**base_headers(), "Date": "yesterday"}
    )
    refused("Date header is not a valid HTTP date", headers, pair.public)


@pytest.mark.parametrize(
    ("covered", "reason"),
    [
        (["host", "date", "digest"], "does not cover (request-target)"),
        (["(request-target)", "date", "digest"], "does not cover host"),
        (["(request-target)", "host", "digest"], "does not cover date"),
        (["(request-target)", "host", "date"], "does not cover digest"),
    ],
)
def test_missing_covered_header_is_refused(pair: keys.KeyPair, covered: list[str], reason: str) -> None:
    refused(reason, by_hand(pair.private_pem, covered, base_headers()), pair.public)


def test_covered_header_absent_from_request_is_refused(pair: keys.KeyPair) -> None:
    headers = by_hand(
        pair.private_pem,
        ["(request-target)", "host", "date", "digest", "content-type"],
        {**base_headers(), "Content-Type": "application/activity+json"},
    )
    del headers["Content-Type"]
    refused("covered header content-type is missing", headers, pair.public)


def test_unknown_algorithm_is_refused(pair: keys.KeyPair) -> None:
    covered = ["(request-target)", "host", "date", "digest"]
    refused(
        "unsupported signature algorithm 'hmac-sha256'",
        by_hand(pair.private_pem, covered, base_headers(), algorithm="hmac-sha256"),
        pair.public,
    )


def test_wrong_key_is_refused(pair: keys.KeyPair, other_pair: keys.KeyPair) -> None:
    headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW)
    refused("signature does not verify with the key", headers, other_pair.public)


def test_tampered_signature_is_refused(pair: keys.KeyPair) -> None:
    headers = sign_request("POST", URL, None, BODY, KEY_ID, pair.private_pem, NOW)
    encoded = headers["Signature"].split('signature="')[1].rstrip('"')
    raw = bytearray(base64.b64decode(encoded))
    raw[10] ^= 1
    headers["Signature"] = headers["Signature"].replace(encoded, base64.b64encode(bytes(raw)).decode())
    refused("signature does not verify with the key", headers, pair.public)


def test_other_target_is_refused(pair: keys.KeyPair) -> None:
    headers = sign_request("POST", "https://b.test/inbox", None, BODY, KEY_ID, pair.private_pem, NOW)
    refused("signature does not verify with the key", headers, pair.public)


def test_request_signed_for_another_server_is_refused(pair: keys.KeyPair) -> None:
    headers = sign_request(
        "POST", "https://c.test/associations/restos/inbox", None, BODY, KEY_ID, pair.private_pem, NOW
    )
    refused("Host header does not match this server", headers, pair.public)


def test_hs2019_with_created_and_expires_verifies(pair: keys.KeyPair) -> None:
    created, expires = int(NOW.timestamp()) - 30, int(NOW.timestamp()) + 300
    covered = ["(request-target)", "(created)", "(expires)", "host", "digest"]
    headers = base_headers()
    del headers["Date"]
    signed = by_hand(
        pair.private_pem, covered, headers, algorithm="hs2019", extra={"created": str(created), "expires": str(expires)}
    )
    assert verify_request("POST", URL, signed, BODY, pair.public, now=NOW).covered == tuple(covered)


def test_expired_signature_is_refused(pair: keys.KeyPair) -> None:
    created, expires = int(NOW.timestamp()) - 600, int(NOW.timestamp()) - 300
    covered = ["(request-target)", "(created)", "(expires)", "host", "date", "digest"]
    extra = {"created": str(created), "expires": str(expires)}
    refused(
        "signature has expired",
        by_hand(pair.private_pem, covered, base_headers(), algorithm="hs2019", extra=extra),
        pair.public,
    )


def test_created_in_the_future_is_refused(pair: keys.KeyPair) -> None:
    covered = ["(request-target)", "(created)", "host", "date", "digest"]
    extra = {"created": str(int(NOW.timestamp()) + 7200)}
    signed = by_hand(pair.private_pem, covered, base_headers(), algorithm="hs2019", extra=extra)
    refused("signature (created) is too far in the future", signed, pair.public)


def test_covered_created_without_parameter_is_refused(pair: keys.KeyPair) -> None:
    signed = by_hand(pair.private_pem, ["(request-target)", "host", "date", "digest"], base_headers())
    signed["Signature"] = signed["Signature"].replace(
        'headers="(request-target)', 'headers="(request-target) (created)'
    )
    refused("covers (created) without its parameter", signed, pair.public)


def test_content_digest_is_accepted(pair: keys.KeyPair) -> None:
    headers = base_headers()
    del headers["Digest"]
    headers["Content-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(BODY).digest()).decode() + ":"
    signed = by_hand(
        pair.private_pem, ["(request-target)", "host", "date", "content-digest"], headers, algorithm="hs2019"
    )
    verify_request("POST", URL, signed, BODY, pair.public, now=NOW)
    signed["Content-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(b"x").digest()).decode() + ":"
    refused("Content-Digest header does not match the body", signed, pair.public)


def test_unsigned_and_malformed_requests_are_refused(pair: keys.KeyPair) -> None:
    refused("request is not signed", base_headers(), pair.public)
    with pytest.raises(SignatureError, match="request is not signed"):
        signature_key_id(base_headers())
    refused("Signature header is malformed", {**base_headers(), "Signature": 'keyId="x" junk'}, pair.public)
    refused("Signature header has no signature", {**base_headers(), "Signature": f'keyId="{KEY_ID}"'}, pair.public)
    refused("signature is not valid base64", {**base_headers(), "Signature": 'keyId="k",signature="%%%"'}, pair.public)


def test_short_rsa_key_is_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point of the test
    headers = sign_request("POST", URL, None, BODY, KEY_ID, weak, NOW)
    refused("RSA key is shorter than 2048 bits", headers, keys.public_pem(weak.public_key()))


def test_authorization_header_form_is_read(pair: keys.KeyPair) -> None:
    headers = sign_request("GET", URL, None, None, KEY_ID, pair.private_pem, NOW)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    assert signature_key_id(headers) == KEY_ID
    verify_request("GET", URL, headers, b"", pair.public, now=NOW)
