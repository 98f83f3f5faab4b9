"""Forms: what was typed, and what is wrong with it, so that a page can be shown again without losing input."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.datastructures import FormData, UploadFile

from instance.errors import ValidationError


class Form:
    """The values of a form (strings, or lists for multiple choices) and the error shown next to each field."""

    def __init__(self, values: Mapping[str, Any] | None = None, errors: Mapping[str, object] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})
        self.errors: dict[str, str] = {k: str(v) for k, v in (errors or {}).items()}

    @classmethod
    def from_data(cls, data: FormData, multiple: Iterable[str] = ()) -> Form:
        """Take the text fields of submitted form data (files and the CSRF token are left out)."""
        lists = set(multiple)
        values: dict[str, Any] = {}
        for key in data:
            if key == "csrf_token":
                continue
            if key in lists:
                values[key] = [v for v in data.getlist(key) if isinstance(v, str)]
            else:
                value = data.get(key)
                if not isinstance(value, UploadFile):
                    values[key] = (value or "").strip() if isinstance(value, str) else ""
        return cls(values)

    def text(self, name: str) -> str:
        value = self.values.get(name, "")
        return value if isinstance(value, str) else ""

    def flag(self, name: str) -> bool:
        return self.values.get(name) in ("1", "on", "true", "yes")

    def fail(self, error: ValidationError) -> Form:
        self.errors.update({k: str(v) for k, v in error.fields.items()})
        if error.message and not error.fields:
            self.errors["__all__"] = str(error.message)
        return self

    @property
    def ok(self) -> bool:
        return not self.errors
