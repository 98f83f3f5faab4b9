"""Micro-benchmark: signatures per second on one core, for sizing inbox and delivery workers.

Run with ``.venv/bin/python bench/crypto_rates.py [seconds-per-measure]``. It measures the raw primitives
(RSA-2048 PKCS#1 v1.5 SHA-256, Ed25519) and the full federation paths built on them (verifying a signed inbox
POST, verifying an eddsa-jcs-2022 proof). Single-threaded: OpenSSL uses one core per call.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from federation import httpsig, keys, proofs

MESSAGE = b"(request-target): post /inbox\nhost: b.test\ndate: Sun, 08 Mar 2026 12:00:00 GMT\ndigest: SHA-256=..."
ACTIVITY = {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v2"],
    "id": "https://a.test/activities/1",
    "type": "Create",
    "actor": "https://a.test/users/alice",
    "object": {"id": "https://a.test/entries/7", "type": "TimeEntry", "duration": "PT3H30M"},
}


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Run ``operation`` repeatedly for about ``seconds`` and return calls per second."""
    operation()
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        operation()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_public = rsa_key.public_key()
    rsa_signature = rsa_key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_public = ed_key.public_key()
    ed_signature = ed_key.sign(MESSAGE)

    body = b'{"type": "Create"}' * 50
    now = datetime.now(UTC)
    url = "https://b.test/inbox"
    signed = httpsig.sign_request("POST", url, None, body, "https://a.test/users/alice#main-key", rsa_key, now)
    secured = proofs.sign(ACTIVITY, ed_key, "https://a.test/users/alice#ed25519-key")

    measures: list[tuple[str, Callable[[], object]]] = [
        ("RSA-2048 sign", lambda: rsa_key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())),
        ("RSA-2048 verify", lambda: rsa_public.verify(rsa_signature, MESSAGE, padding.PKCS1v15(), hashes.SHA256())),
        ("Ed25519 sign", lambda: ed_key.sign(MESSAGE)),
        ("Ed25519 verify", lambda: ed_public.verify(ed_signature, MESSAGE)),
        (
            "HTTP signature verify (full, RSA)",
            lambda: httpsig.verify_request("POST", url, signed, body, rsa_public, now),
        ),
        ("eddsa-jcs-2022 proof verify (full)", lambda: proofs.verify(secured, ed_public)),
        ("eddsa-jcs-2022 proof sign (full)", lambda: proofs.sign(ACTIVITY, ed_key, "https://a.test/k")),
    ]
    print(f"one core, {seconds:g} s per measure; key sizes: RSA {keys.RSA_KEY_BITS} bits, Ed25519")
    for label, operation in measures:
        print(f"{label:<38} {rate(operation, seconds):>10,.0f} /s")


if __name__ == "__main__":
    main()
