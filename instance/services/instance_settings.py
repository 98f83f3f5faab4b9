"""Instance settings an admin edits in the app, over those of the environment.

The effective value of each setting is the database row's when set, else the environment's (``Settings``).
Everything that depends on one of them reads it through :func:`effective` — one function, one query.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from instance import reference
from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.models import SiteSettings, User, utcnow
from instance.services.catalog import parse_money
from instance.settings import FIELDS, Settings

ROW_ID = 1
MAX_NAME = 100
MAX_TEXT = 20_000
MAX_CONTACT = 300
MAX_LEVELS = 20
MAX_LEVEL_NAME = 255
# the settings that exist both in the environment and in the database row
OVERRIDABLE = (
    "instance_name",
    "user_registration",
    "association_registration",
    "default_hourly_rate",
    "federation_allowlist_only",
)


@dataclass(frozen=True)
class DefaultLevel:
    name: str
    hourly_rate: Decimal | None  # None: the instance's default hourly value


@dataclass(frozen=True)
class Site:
    """The instance as its admins set it up: ``settings`` are the environment's with the admins' overrides."""

    settings: Settings
    description: str
    charter: str
    contact: str
    default_categories: tuple[str, ...]  # codes of the shared categories a new association starts with
    default_levels: tuple[DefaultLevel, ...]
    overridden: frozenset[str]  # names of the settings the database row sets


async def effective(db: AsyncSession, settings: Settings) -> Site:
    """The effective instance settings: the database row where set, else ``settings``."""
    row = await db.get(SiteSettings, ROW_ID)
    return site_of(row, settings)


def site_of(row: SiteSettings | None, settings: Settings) -> Site:
    every_code = tuple(category.code for category in reference.common_categories())
    if row is None:
        return Site(settings, "", "", "", every_code, (), frozenset())
    overrides = {name: getattr(row, name) for name in OVERRIDABLE if getattr(row, name) is not None}
    categories = (
        every_code
        if row.default_categories is None
        else tuple(code for code in every_code if code in row.default_categories)
    )
    levels = tuple(
        DefaultLevel(str(level["name"]), None if level.get("hourly_rate") is None else Decimal(level["hourly_rate"]))
        for level in row.default_levels or ()
    )
    return Site(
        settings=dataclasses.replace(settings, **overrides),
        description=row.description or "",
        charter=row.charter or "",
        contact=row.contact or "",
        default_categories=categories,
        default_levels=levels,
        overridden=frozenset(overrides),
    )


# -- editing -----------------------------------------------------------------------------------------------


def _choice(name: str, value: str, errors: dict[str, object]) -> str | None:
    """An empty value means "as the environment says"."""
    if not value:
        return None
    if value not in FIELDS[name].metadata["choices"]:
        errors[name] = lazy_gettext("Please choose one of the proposed values.")
        return None
    return value


def _flag(name: str, value: str, errors: dict[str, object]) -> bool | None:
    """``True`` or ``False`` as the form sends them; empty means "as the environment says"."""
    if value in ("True", "False"):
        return value == "True"
    if value:
        errors[name] = lazy_gettext("Please choose one of the proposed values.")
    return None


def _text(name: str, value: str, limit: int, errors: dict[str, object]) -> str | None:
    value = value.strip()
    if len(value) > limit:
        errors[name] = lazy_gettext("Use at most %(n)s characters.", n=limit)
    return value or None


def _rate(value: str, field: str, errors: dict[str, object]) -> Decimal | None:
    if not value.strip():
        return None
    rate = parse_money(value)
    if rate is None or rate < 0 or rate > 10_000 or rate != rate.quantize(Decimal("0.01")):
        errors[field] = lazy_gettext("Please give an hourly value in euros between 0 and 10,000, such as 11.88.")
        return None
    return rate.quantize(Decimal("0.01"))


def parse_levels(text: str, errors: dict[str, object]) -> list[dict[str, Any]] | None:
    """One level a line: ``Name`` or ``Name: 15.50`` (its hourly value in euros)."""
    levels: list[dict[str, Any]] = []
    for line in text.splitlines():
        name, _colon, rate_text = line.partition(":")
        name = " ".join(name.split())
        if not name:
            continue
        if len(name) > MAX_LEVEL_NAME:
            errors["default_levels"] = lazy_gettext("A level name has at most %(n)s characters.", n=MAX_LEVEL_NAME)
        rate = _rate(rate_text, "default_levels", errors)
        levels.append({"name": name, "hourly_rate": None if rate is None else str(rate)})
    if len(levels) > MAX_LEVELS:
        errors["default_levels"] = lazy_gettext("At most %(n)s levels.", n=MAX_LEVELS)
    return levels or None


def levels_text(site: Site) -> str:
    """The default levels as the form shows them."""
    return "\n".join(
        level.name if level.hourly_rate is None else f"{level.name}: {level.hourly_rate}"
        for level in site.default_levels
    )


async def save(db: AsyncSession, admin: User, values: dict[str, Any]) -> SiteSettings:
    """Check and store what the admin typed (text fields, ``default_categories`` a list of codes); an empty
    field goes back to the environment's value. Flushes; the caller commits."""
    if not admin.is_admin:
        raise ValidationError(message=lazy_gettext("This page is for the instance's administrators."))
    errors: dict[str, object] = {}
    name = _text("instance_name", values.get("instance_name", ""), MAX_NAME, errors)
    every_code = [category.code for category in reference.common_categories()]
    chosen = [code for code in every_code if code in set(values.get("default_categories", []))]
    cleaned: dict[str, Any] = {
        "instance_name": name,
        "description": _text("description", values.get("description", ""), MAX_TEXT, errors),
        "charter": _text("charter", values.get("charter", ""), MAX_TEXT, errors),
        "contact": _text("contact", values.get("contact", ""), MAX_CONTACT, errors),
        "user_registration": _choice("user_registration", values.get("user_registration", ""), errors),
        "association_registration": _choice(
            "association_registration", values.get("association_registration", ""), errors
        ),
        "default_hourly_rate": _rate(values.get("default_hourly_rate", ""), "default_hourly_rate", errors),
        "federation_allowlist_only": _flag(
            "federation_allowlist_only", values.get("federation_allowlist_only", ""), errors
        ),
        "default_categories": None if len(chosen) == len(every_code) else chosen,
        "default_levels": parse_levels(values.get("default_levels", ""), errors),
    }
    if errors:
        raise ValidationError(errors)
    row = await db.get(SiteSettings, ROW_ID)
    if row is None:
        row = SiteSettings(id=ROW_ID)
        db.add(row)
    for key, value in cleaned.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    row.updated_by_id = admin.id
    await db.flush()
    return row
