"""FEP-8b32 Object Integrity Proofs with the ``eddsa-jcs-2022`` cryptosuite (W3C Data Integrity EdDSA v1.0).

Signing: the proof configuration is the proof options plus the document's ``@context``; the signed data is
SHA-256(JCS(proof configuration)) || SHA-256(JCS(document without proof)); the Ed25519 signature is written as
base58btc multibase in ``proofValue``. The ``proof`` object carries the ``@context`` too, as Fedify's does.

Verifying follows the same spec; an ``RsaSignature2017`` ``signature`` property (added by Mastodon-compatible
servers after the proof) is not part of the proved document. No remote context is ever fetched: JCS works on the
JSON as received. bovine's ``sign_document`` is not used, see PROTOCOL.md.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jcs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from federation.jsonld import as_list
from federation.keys import KeyFormatError, decode_multikey, load_ed25519_private
from federation.multibase import decode_base58btc, encode_base58btc

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
ASSERTION = "assertionMethod"


class ProofError(Exception):
    """A Data Integrity proof is missing, malformed or does not verify; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _jcs_sha256(value: Any) -> bytes:
    canonical: bytes = jcs.canonicalize(value)
    return hashlib.sha256(canonical).digest()


def _hash_data(proof_config: Mapping[str, Any], unsecured: Mapping[str, Any]) -> bytes:
    return _jcs_sha256(proof_config) + _jcs_sha256(unsecured)


def _format_created(created: datetime | None) -> str:
    moment = created or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(
    document: Mapping[str, Any],
    private_key: ed25519.Ed25519PrivateKey | str,
    verification_method: str,
    created: datetime | None = None,
    purpose: str = ASSERTION,
) -> dict[str, Any]:
    """Return a copy of ``document`` with an ``eddsa-jcs-2022`` ``proof`` made with ``private_key`` (or its PEM)."""
    if "proof" in document:
        raise ProofError("document already has a proof")
    key = load_ed25519_private(private_key) if isinstance(private_key, str) else private_key
    unsecured = copy.deepcopy(dict(document))
    config: dict[str, Any] = {}
    if "@context" in unsecured:
        config["@context"] = copy.deepcopy(unsecured["@context"])
    config.update(
        {
            "type": PROOF_TYPE,
            "cryptosuite": CRYPTOSUITE,
            "verificationMethod": verification_method,
            "proofPurpose": purpose,
            "created": _format_created(created),
        }
    )
    signature = key.sign(_hash_data(config, unsecured))
    return {**unsecured, "proof": {**config, "proofValue": encode_base58btc(signature)}}


def proof_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """Return the document's single proof object; a proof set of several proofs is refused."""
    proofs = as_list(document.get("proof"))
    if not proofs:
        raise ProofError("document has no proof")
    if len(proofs) > 1:
        raise ProofError("proof sets with several proofs are not supported")
    if not isinstance(proofs[0], dict):
        raise ProofError("proof is not an object")
    return proofs[0]


def verification_method(document: Mapping[str, Any]) -> str:
    """The ``verificationMethod`` id of the document's proof (the key to look up before verifying)."""
    method = proof_of(document).get("verificationMethod")
    if isinstance(method, dict):
        method = method.get("id")
    if not isinstance(method, str) or not method:
        raise ProofError("proof has no verificationMethod")
    return method


def verify(document: Mapping[str, Any], public_key: ed25519.Ed25519PublicKey, purpose: str = ASSERTION) -> None:
    """Verify the document's ``eddsa-jcs-2022`` proof with ``public_key``; raise ``ProofError`` if it fails."""
    proof = proof_of(document)
    signature = _check_options(proof, purpose)
    options = {name: value for name, value in proof.items() if name != "proofValue"}
    unsecured = {name: value for name, value in document.items() if name != "proof"}
    candidates = [unsecured]
    legacy = unsecured.get("signature")
    if isinstance(legacy, dict) and legacy.get("type") == "RsaSignature2017":
        candidates.insert(0, {name: value for name, value in unsecured.items() if name != "signature"})
    reason = "proof does not verify with the key"
    for candidate in candidates:
        try:
            _verify_one(candidate, options, signature, public_key)
            return
        except ProofError as error:
            reason = error.reason
    raise ProofError(reason)


def is_valid(document: Mapping[str, Any], public_key: ed25519.Ed25519PublicKey, purpose: str = ASSERTION) -> bool:
    """Whether :func:`verify` accepts the document."""
    try:
        verify(document, public_key, purpose)
    except ProofError:
        return False
    return True


def _check_options(proof: Mapping[str, Any], purpose: str) -> bytes:
    if proof.get("type") != PROOF_TYPE:
        raise ProofError(f"proof type is not {PROOF_TYPE}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"proof cryptosuite is not {CRYPTOSUITE}")
    if proof.get("proofPurpose") != purpose:
        raise ProofError(f"proof purpose is not {purpose}")
    _check_expires(proof.get("expires"))
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proofValue is not base58btc multibase")
    try:
        signature = decode_base58btc(value)
    except ValueError as error:
        raise ProofError("proofValue is not valid base58btc") from error
    if len(signature) != 64:
        raise ProofError("proofValue is not a 64-byte Ed25519 signature")
    return signature


def _check_expires(expires: Any) -> None:
    if expires is None:
        return
    try:
        moment = datetime.fromisoformat(str(expires))
    except ValueError as error:
        raise ProofError("proof expires is not a date-time") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment < datetime.now(UTC):
        raise ProofError("proof has expired")


def _verify_one(
    unsecured: dict[str, Any], options: dict[str, Any], signature: bytes, key: ed25519.Ed25519PublicKey
) -> None:
    unsecured = dict(unsecured)
    if "@context" in options:
        proof_context = as_list(options["@context"])
        if as_list(unsecured.get("@context"))[: len(proof_context)] != proof_context:
            raise ProofError("proof @context is not a prefix of the document's @context")
        unsecured["@context"] = options["@context"]
    config = dict(options)
    if "@context" in unsecured:
        config["@context"] = unsecured["@context"]
    try:
        key.verify(signature, _hash_data(config, unsecured))
    except InvalidSignature as error:
        raise ProofError("proof does not verify with the key") from error


def assertion_key(actor: Mapping[str, Any], method_id: str) -> ed25519.Ed25519PublicKey:
    """Find ``method_id`` among the actor's embedded ``assertionMethod`` Multikeys and return its Ed25519 key."""
    for entry in as_list(actor.get("assertionMethod")):
        if not isinstance(entry, dict) or entry.get("id") != method_id:
            continue
        if entry.get("type") != "Multikey":
            raise ProofError("verification method is not a Multikey")
        if entry.get("controller") != actor.get("id"):
            raise ProofError("verification method is not controlled by the actor")
        try:
            return decode_multikey(entry.get("publicKeyMultibase", ""))
        except KeyFormatError as error:
            raise ProofError(f"verification method key is unusable: {error.reason}") from error
    raise ProofError("verification method is not one of the actor's assertionMethod keys")
