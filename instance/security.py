"""Passwords and signed tokens."""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    """A hash made on first use, so that a login for an unknown email costs as much as for a known one."""
    return _hasher.hash("not a real password, only here to spend time")


def spend_verification_time(password: str) -> None:
    verify_password(_dummy_hash(), password)


class Tokens:
    """Signed, timed tokens for links sent by mail (account confirmation, password reset)."""

    def __init__(self, secret_key: str) -> None:
        self._secret = secret_key

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=f"benevalibre.{purpose}")

    def make(self, purpose: str, payload: object) -> str:
        return str(self._serializer(purpose).dumps(payload))

    def read(self, purpose: str, token: str, max_age: int) -> object | None:
        """The payload, or None when the token is forged, for another purpose or too old."""
        try:
            payload: object = self._serializer(purpose).loads(token, max_age=max_age)
            return payload
        except (BadSignature, SignatureExpired):
            return None

    def fingerprint(self, value: str) -> str:
        """A short keyed digest, used to tie a token to state that changes when it is used."""
        return hmac.new(self._secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]
