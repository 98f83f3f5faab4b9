"""The domain's exceptions; the web layer maps each to a status code in one place."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """Base of every error a service raises on purpose; ``message`` is shown to the person."""

    status_code = 400

    def __init__(self, message: object = "") -> None:
        super().__init__(str(message))
        self.message = message


class ValidationError(DomainError):
    """Input that cannot be accepted; ``fields`` maps a form field to what is wrong with it."""

    status_code = 400

    def __init__(self, fields: Mapping[str, object] | None = None, message: object = "") -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


class PermissionDenied(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class RateLimited(DomainError):
    status_code = 429

    def __init__(self, retry_after: int, message: object = "") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotMigrated(RuntimeError):
    """The database is not at the latest migration; the message says which command fixes it."""

    def __init__(self, current: str | None, head: str | None) -> None:
        super().__init__(
            f"The database is at migration {current or '(none)'} but this version needs {head}. "
            "Run `benevalibre init` to create or upgrade it."
        )
        self.current = current
        self.head = head
