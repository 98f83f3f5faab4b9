"""Actor key pairs: RSA-2048 for HTTP signatures, Ed25519 for Data Integrity proofs, and their storage.

Private keys are PEM (PKCS#8) strings, encrypted at rest with a key derived from the instance secret (HKDF-SHA256,
a random salt per value, then AES-256-GCM). Public Ed25519 keys are published as FEP-521a ``Multikey`` values:
``z`` + base58btc(0xed 0x01 + the 32 raw key bytes).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from federation.multibase import decode_base58btc, encode_base58btc

RSA_KEY_BITS = 2048
ED25519_MULTICODEC = b"\xed\x01"
_SEALED_PREFIX = "v1."
_SALT_BYTES = 16
_NONCE_BYTES = 12
_HKDF_INFO = b"benevalibre-fed private key at rest v1"


class KeyFormatError(ValueError):
    """A key or a sealed key could not be read; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class KeyPair:
    """A private key (PKCS#8 PEM) and its public form (SPKI PEM for RSA, Multikey for Ed25519)."""

    private_pem: str
    public: str


def generate_rsa() -> KeyPair:
    """Generate an RSA-2048 key pair for draft-cavage HTTP signatures; ``public`` is the SPKI PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    return KeyPair(private_pem=_private_pem(key), public=public_pem(key.public_key()))


def generate_ed25519() -> KeyPair:
    """Generate an Ed25519 key pair for Data Integrity proofs; ``public`` is the Multikey ``publicKeyMultibase``."""
    key = ed25519.Ed25519PrivateKey.generate()
    return KeyPair(private_pem=_private_pem(key), public=encode_multikey(key.public_key()))


def _private_pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")


def public_pem(key: rsa.RSAPublicKey | ed25519.Ed25519PublicKey) -> str:
    """Return the SubjectPublicKeyInfo PEM of a public key (what ``publicKeyPem`` carries)."""
    return key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")


def load_rsa_private(pem: str) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM, refusing any other key type."""
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise KeyFormatError("not a PEM private key") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError("not an RSA private key")
    return key


def load_ed25519_private(pem: str) -> ed25519.Ed25519PrivateKey:
    """Load an Ed25519 private key from PEM, refusing any other key type."""
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise KeyFormatError("not a PEM private key") from error
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyFormatError("not an Ed25519 private key")
    return key


def load_public_pem(pem: str) -> rsa.RSAPublicKey | ed25519.Ed25519PublicKey:
    """Load a public key published as ``publicKeyPem`` (RSA, or Ed25519 for the rare servers that use it)."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise KeyFormatError("not a PEM public key") from error
    if not isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise KeyFormatError("unsupported public key type")
    return key


def encode_multikey(key: ed25519.Ed25519PublicKey) -> str:
    """Encode an Ed25519 public key as a Multikey ``publicKeyMultibase`` (``z6Mk...``)."""
    raw = key.public_bytes(encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw)
    return encode_base58btc(ED25519_MULTICODEC + raw)


def decode_multikey(value: str) -> ed25519.Ed25519PublicKey:
    """Decode a Multikey ``publicKeyMultibase``; only base58btc Ed25519 public keys are accepted."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise KeyFormatError("publicKeyMultibase is not base58btc multibase")
    try:
        data = decode_base58btc(value)
    except ValueError as error:
        raise KeyFormatError("publicKeyMultibase is not valid base58btc") from error
    if data[:2] != ED25519_MULTICODEC:
        raise KeyFormatError("publicKeyMultibase is not an Ed25519 public key")
    if len(data) != 34:
        raise KeyFormatError("Ed25519 public key must be 32 bytes")
    return ed25519.Ed25519PublicKey.from_public_bytes(data[2:])


def _derive(secret: str, salt: bytes) -> bytes:
    if not secret:
        raise KeyFormatError("the instance secret is empty")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO)
    return hkdf.derive(secret.encode("utf-8"))


def seal_private_key(private_pem: str, secret: str, context: str = "") -> str:
    """Encrypt a private key PEM for storage. ``context`` (e.g. the key id) is bound to the ciphertext."""
    salt = os.urandom(_SALT_BYTES)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_derive(secret, salt)).encrypt(nonce, private_pem.encode("ascii"), context.encode("utf-8"))
    return _SEALED_PREFIX + base64.urlsafe_b64encode(salt + nonce + sealed).decode("ascii")


def open_private_key(sealed: str, secret: str, context: str = "") -> str:
    """Decrypt a value made by :func:`seal_private_key`; a wrong secret or context raises ``KeyFormatError``."""
    if not sealed.startswith(_SEALED_PREFIX):
        raise KeyFormatError("unknown sealed key format")
    try:
        data = base64.urlsafe_b64decode(sealed[len(_SEALED_PREFIX) :].encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as error:
        raise KeyFormatError("sealed key is not valid base64") from error
    if len(data) <= _SALT_BYTES + _NONCE_BYTES:
        raise KeyFormatError("sealed key is truncated")
    salt, nonce, body = (
        data[:_SALT_BYTES],
        data[_SALT_BYTES : _SALT_BYTES + _NONCE_BYTES],
        data[_SALT_BYTES + _NONCE_BYTES :],
    )
    try:
        plain = AESGCM(_derive(secret, salt)).decrypt(nonce, body, context.encode("utf-8"))
    except InvalidTag as error:
        raise KeyFormatError("sealed key does not open with this secret") from error
    return plain.decode("ascii")
