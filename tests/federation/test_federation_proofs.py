"""FEP-8b32 eddsa-jcs-2022 proofs: Fedify's proof verifies and breaks on any change; ours verify independently."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import based58
import jcs
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation import keys, proofs

VECTOR = json.loads((Path(__file__).parent / "data" / "fedify-follow-with-proof.json").read_text())
FEDIFY_METHOD = "http://127.0.0.1:8001/users/alice#multikey-2"
CONTEXT = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/data-integrity/v2",
    {"bvf": "https://w3id.org/benevalibre-fed/ns#", "TimeEntry": "bvf:TimeEntry", "distance": "bvf:distance"},
]
ACCEPT = {
    "@context": CONTEXT,
    "id": "https://b.test/activities/41",
    "type": "Accept",
    "actor": "https://b.test/associations/restos",
    "to": ["https://a.test/users/alice"],
    "object": {
        "id": "https://a.test/entries/7",
        "type": "TimeEntry",
        "attributedTo": "https://a.test/users/alice",
        "audience": "https://b.test/associations/restos",
        "name": "Tri des dons",
        "content": "Trier les dons du samedi — café offert",
        "startTime": "2026-03-08T09:00:00+01:00",
        "duration": "PT3H30M",
        "category": "https://b.test/associations/restos/categories/4",
        "distance": 12.5,
    },
}
OUR_METHOD = "https://b.test/associations/restos#ed25519-key"


def fedify_activity() -> dict[str, Any]:
    return copy.deepcopy(VECTOR["activity"])


def fedify_key() -> ed25519.Ed25519PublicKey:
    return proofs.assertion_key(VECTOR["actor"], FEDIFY_METHOD)


def canonical(value: Any) -> bytes:
    """JCS (RFC 8785) for documents with ASCII keys and no exotic numbers: sorted keys, no spaces, raw UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify_by_the_spec(secured: dict[str, Any], public_key: ed25519.Ed25519PublicKey) -> None:
    """Data Integrity EdDSA v1.0, Verify Proof (eddsa-jcs-2022), written out step by step."""
    unsecured = {name: value for name, value in secured.items() if name != "proof"}
    options = {name: value for name, value in secured["proof"].items() if name != "proofValue"}
    proof_bytes = based58.b58decode(secured["proof"]["proofValue"][1:].encode())
    assert secured["proof"]["proofValue"][0] == "z"
    if "@context" in options:
        assert unsecured["@context"][: len(options["@context"])] == options["@context"]
        unsecured["@context"] = options["@context"]
    config = {**options, "@context": unsecured["@context"]}
    assert config["type"] == "DataIntegrityProof"
    assert config["cryptosuite"] == "eddsa-jcs-2022"
    hash_data = hashlib.sha256(canonical(config)).digest() + hashlib.sha256(canonical(unsecured)).digest()
    public_key.verify(proof_bytes, hash_data)


def test_fedify_proof_verifies() -> None:
    activity = fedify_activity()
    assert proofs.verification_method(activity) == FEDIFY_METHOD
    proofs.verify(activity, fedify_key())
    assert proofs.is_valid(activity, fedify_key())


def test_fedify_rsa_signature_is_not_part_of_the_proved_document() -> None:
    activity = fedify_activity()
    with pytest.raises(InvalidSignature):
        verify_by_the_spec(activity, fedify_key())
    del activity["signature"]
    verify_by_the_spec(activity, fedify_key())
    proofs.verify(activity, fedify_key())


def test_changing_the_rsa_signature_does_not_matter() -> None:
    activity = fedify_activity()
    activity["signature"]["signatureValue"] = "forged"
    proofs.verify(activity, fedify_key())


def changed(value: Any) -> Any:
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return value[:-1]
    return {"changed": True}


@pytest.mark.parametrize("name", [name for name in VECTOR["activity"] if name not in ("proof", "signature")])
def test_any_changed_property_of_fedify_activity_fails(name: str) -> None:
    activity = fedify_activity()
    activity[name] = changed(activity[name])
    assert not proofs.is_valid(activity, fedify_key())
    del activity[name]
    assert not proofs.is_valid(activity, fedify_key())


@pytest.mark.parametrize("name", ["created", "verificationMethod", "proofValue", "@context"])
def test_any_changed_proof_option_fails(name: str) -> None:
    activity = fedify_activity()
    activity["proof"][name] = changed(activity["proof"][name])
    assert not proofs.is_valid(activity, fedify_key())


def test_added_property_fails() -> None:
    activity = fedify_activity()
    activity["summary"] = "hello"
    with pytest.raises(proofs.ProofError, match="does not verify"):
        proofs.verify(activity, fedify_key())


def test_our_proof_verifies_by_the_spec() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    secured = proofs.sign(ACCEPT, private, OUR_METHOD, created=datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    assert canonical(ACCEPT) == jcs.canonicalize(ACCEPT)
    proof = secured["proof"]
    assert proof["@context"] == CONTEXT
    assert proof["created"] == "2026-03-08T12:00:00Z"
    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"]) == (
        "DataIntegrityProof",
        "eddsa-jcs-2022",
        "assertionMethod",
    )
    assert proof["verificationMethod"] == OUR_METHOD
    assert "proof" not in ACCEPT
    verify_by_the_spec(secured, private.public_key())
    proofs.verify(secured, private.public_key())


def test_our_proof_with_pem_key_and_later_rsa_signature_verifies() -> None:
    pair = keys.generate_ed25519()
    secured = proofs.sign(ACCEPT, pair.private_pem, OUR_METHOD)
    secured["signature"] = {"type": "RsaSignature2017", "signatureValue": "..."}
    proofs.verify(secured, keys.decode_multikey(pair.public))


def test_our_proof_breaks_on_change_and_on_wrong_key() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    secured = proofs.sign(ACCEPT, private, OUR_METHOD)
    tampered = copy.deepcopy(secured)
    tampered["object"]["duration"] = "PT13H30M"
    with pytest.raises(proofs.ProofError, match="does not verify"):
        proofs.verify(tampered, private.public_key())
    with pytest.raises(proofs.ProofError, match="does not verify"):
        proofs.verify(secured, ed25519.Ed25519PrivateKey.generate().public_key())


def test_malformed_proofs_are_refused() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    secured = proofs.sign(ACCEPT, private, OUR_METHOD)
    cases = {
        "type": ("Ed25519Signature2020", "proof type is not DataIntegrityProof"),
        "cryptosuite": ("eddsa-rdfc-2022", "proof cryptosuite is not eddsa-jcs-2022"),
        "proofPurpose": ("authentication", "proof purpose is not assertionMethod"),
        "proofValue": ("uAAAA", "proofValue is not base58btc multibase"),
        "expires": ("2020-01-01T00:00:00Z", "proof has expired"),
    }
    for name, (value, reason) in cases.items():
        broken = copy.deepcopy(secured)
        broken["proof"][name] = value
        with pytest.raises(proofs.ProofError) as caught:
            proofs.verify(broken, private.public_key())
        assert caught.value.reason == reason
    with pytest.raises(proofs.ProofError, match="document has no proof"):
        proofs.verify(ACCEPT, private.public_key())
    with pytest.raises(proofs.ProofError, match="already has a proof"):
        proofs.sign(secured, private, OUR_METHOD)
    with pytest.raises(proofs.ProofError, match="several proofs"):
        proofs.verify({**secured, "proof": [secured["proof"], secured["proof"]]}, private.public_key())


def test_assertion_key_checks_the_actor() -> None:
    actor = copy.deepcopy(VECTOR["actor"])
    with pytest.raises(proofs.ProofError, match="not one of the actor's assertionMethod keys"):
        proofs.assertion_key(actor, "http://127.0.0.1:8001/users/alice#multikey-9")
    with pytest.raises(proofs.ProofError, match="key is unusable"):
        proofs.assertion_key(actor, "http://127.0.0.1:8001/users/alice#multikey-1")
    actor["assertionMethod"][1]["controller"] = "http://127.0.0.1:8001/users/mallory"
    with pytest.raises(proofs.ProofError, match="not controlled by the actor"):
        proofs.assertion_key(actor, FEDIFY_METHOD)
