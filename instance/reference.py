"""The reference lists shared with the Django Bénévalibre: default categories, activity fields, default roles.

They live in ``instance/data/reference-lists.json`` (data, not code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from instance.i18n import get_language

DATA_FILE = Path(__file__).parent / "data" / "reference-lists.json"

# Bénévalibre's names of the role permissions, mapped to ours.
PERMISSION_NAMES = {
    "list_members": "list_members",
    "manage_members": "manage_members",
    "manage_entries": "manage_entries",
    "manage_benevalos": "manage_entries",
    "manage_categories": "manage_categories",
    "manage_benevalo_categories": "manage_categories",
    "manage_levels": "manage_levels",
    "manage_benevalo_levels": "manage_levels",
    "manage_projects": "manage_projects",
    "manage_roles": "manage_roles",
    "manage_association": "manage_association",
}


@dataclass(frozen=True)
class CommonCategory:
    code: str
    fr: str
    en: str

    @property
    def label(self) -> str:
        """The name in the current language."""
        return self.fr if get_language() == "fr" else self.en


@dataclass(frozen=True)
class DefaultRole:
    name: str
    is_default: bool
    permissions: tuple[str, ...]


@cache
def _data() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@cache
def common_categories() -> tuple[CommonCategory, ...]:
    return tuple(CommonCategory(c["code"], c["fr"], c["en"]) for c in _data()["default_categories"])


def common_category(code: str) -> CommonCategory | None:
    return next((c for c in common_categories() if c.code == code), None)


@cache
def activity_fields() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(group, fields) pairs, in the order of the reference list."""
    return tuple((g["group"], tuple(g["fields"])) for g in _data()["activity_fields"])


@cache
def all_activity_fields() -> frozenset[str]:
    return frozenset(f for _group, fields in activity_fields() for f in fields)


@cache
def default_roles() -> tuple[DefaultRole, ...]:
    return tuple(
        DefaultRole(r["name"], bool(r["is_default"]), tuple(PERMISSION_NAMES[p] for p in r["permissions"]))
        for r in _data()["default_roles"]
    )
