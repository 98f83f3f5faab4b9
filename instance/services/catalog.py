"""An association's catalog: categories, levels and projects, managed by those whose role allows it.

Items in use by an entry cannot be deleted (the entries keep pointing at them); they are archived instead,
which takes them out of the entry forms while old entries still show them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance import reference
from instance.errors import Conflict, NotFound, ValidationError
from instance.events import AssociationChanged, publish
from instance.i18n import lazy_gettext
from instance.models import Association, Category, Level, Project, TimeEntry, User
from instance.services.access import require_permission
from instance.settings import Settings

CatalogItem = Category | Level | Project
MAX_HOURLY_RATE = Decimal("10000")
MAX_DESCRIPTION = 5000


@dataclass(frozen=True)
class Kind:
    """One kind of catalog item: its model, the permission that manages it and the entry column using it."""

    name: str  # "categories", "levels" or "projects" (also the URL segment)
    model: type[CatalogItem]
    permission: str
    entry_column: Any


KINDS: dict[str, Kind] = {
    "categories": Kind("categories", Category, "manage_categories", TimeEntry.category_id),
    "levels": Kind("levels", Level, "manage_levels", TimeEntry.level_id),
    "projects": Kind("projects", Project, "manage_projects", TimeEntry.project_id),
}


def kind_of(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise NotFound(lazy_gettext("This page does not exist."))
    return kind


def default_hourly_rate(association: Association, settings: Settings) -> Decimal:
    """The value proposed for a new level: the association's hourly rate, else the instance's."""
    return association.hourly_rate if association.hourly_rate is not None else settings.default_hourly_rate


def parse_money(text: str) -> Decimal | None:
    """``"11,88"`` or ``"11.88"`` → ``Decimal("11.88")``; None when it is not a number."""
    try:
        value = Decimal(text.strip().replace(",", ".").replace("\u202f", "").replace(" ", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


async def list_items(db: AsyncSession, association: Association, kind: Kind) -> list[CatalogItem]:
    """Every item of this kind, active ones first, then by name."""
    model = kind.model
    rows = await db.scalars(
        select(model)
        .where(model.association_id == association.id)
        .order_by(model.archived, func.lower(model.name), model.id)
    )
    return [cast(CatalogItem, item) for item in rows.all()]


async def usage_counts(db: AsyncSession, association: Association, kind: Kind) -> dict[int, int]:
    """How many entries use each item of this kind."""
    column = kind.entry_column
    rows = await db.execute(
        select(column, func.count())
        .where(TimeEntry.association_id == association.id, column.is_not(None))
        .group_by(column)
    )
    return {int(item_id): int(count) for item_id, count in rows.all()}


async def get_item(db: AsyncSession, association: Association, kind: Kind, item_id: int) -> CatalogItem:
    item = cast(CatalogItem | None, await db.get(kind.model, item_id))
    if item is None or item.association_id != association.id:
        raise NotFound(lazy_gettext("This item does not exist in this association."))
    return item


async def _clean(
    db: AsyncSession, association: Association, kind: Kind, values: Mapping[str, str], current: CatalogItem | None
) -> dict[str, Any]:
    errors: dict[str, object] = {}
    name = " ".join(values.get("name", "").split())
    if not name:
        errors["name"] = lazy_gettext("Please give a name.")
    elif len(name) > 255:
        errors["name"] = lazy_gettext("The name can have at most 255 characters.")
    else:
        model = kind.model
        query = select(model.id).where(model.association_id == association.id, func.lower(model.name) == name.lower())
        if current is not None:
            query = query.where(model.id != current.id)
        if await db.scalar(query) is not None:
            errors["name"] = lazy_gettext("This association already has an item with this name.")
    cleaned: dict[str, Any] = {"name": name, "description": values.get("description", "").strip()}
    if len(cleaned["description"]) > MAX_DESCRIPTION:
        errors["description"] = lazy_gettext("Use at most %(n)s characters.", n=MAX_DESCRIPTION)
    if kind.model is Category:
        code = values.get("common_category", "")
        if reference.common_category(code) is None:
            errors["common_category"] = lazy_gettext("Please choose the shared category this one belongs to.")
        cleaned["common_category"] = code
    if kind.model is Level:
        rate = parse_money(values.get("hourly_rate", ""))
        if rate is None:
            errors["hourly_rate"] = lazy_gettext("Please give an hourly value in euros, such as 11.88.")
        elif rate < 0 or rate > MAX_HOURLY_RATE:
            errors["hourly_rate"] = lazy_gettext("The hourly value must be between 0 and 10,000 euros.")
        elif rate != rate.quantize(Decimal("0.01")):
            errors["hourly_rate"] = lazy_gettext("The hourly value can have at most two decimals.")
        cleaned["hourly_rate"] = rate
    if errors:
        raise ValidationError(errors)
    return cleaned


async def create_item(
    db: AsyncSession, user: User, association: Association, kind: Kind, values: Mapping[str, str]
) -> CatalogItem:
    await require_permission(db, user, association, kind.permission)
    cleaned = await _clean(db, association, kind, values, None)
    item = kind.model(association_id=association.id, archived=False, **cleaned)
    db.add(item)
    await db.flush()
    await publish(db, AssociationChanged(association.id))
    return item


async def update_item(
    db: AsyncSession, user: User, association: Association, kind: Kind, item_id: int, values: Mapping[str, str]
) -> CatalogItem:
    await require_permission(db, user, association, kind.permission)
    item = await get_item(db, association, kind, item_id)
    for key, value in (await _clean(db, association, kind, values, item)).items():
        setattr(item, key, value)
    await db.flush()
    await publish(db, AssociationChanged(association.id))
    return item


async def set_archived(
    db: AsyncSession, user: User, association: Association, kind: Kind, item_id: int, archived: bool
) -> CatalogItem:
    await require_permission(db, user, association, kind.permission)
    item = await get_item(db, association, kind, item_id)
    if archived and kind.model is Category:
        others = await db.scalar(
            select(func.count())
            .select_from(Category)
            .where(Category.association_id == association.id, Category.id != item.id, Category.archived.is_(False))
        )
        if not others:
            raise Conflict(lazy_gettext("Keep at least one category: every entry needs one."))
    item.archived = archived
    await db.flush()
    await publish(db, AssociationChanged(association.id))
    return item


async def delete_item(db: AsyncSession, user: User, association: Association, kind: Kind, item_id: int) -> str:
    """Delete an unused item and return its name; Conflict when an entry uses it (archive it instead)."""
    await require_permission(db, user, association, kind.permission)
    item = await get_item(db, association, kind, item_id)
    used = await db.scalar(select(func.count()).select_from(TimeEntry).where(kind.entry_column == item.id))
    if used:
        raise Conflict(
            lazy_gettext(
                "“%(name)s” is used by %(count)s entries, so it cannot be deleted. Archive it instead: "
                "it will no longer be offered for new entries.",
                name=item.name,
                count=used,
            )
        )
    if kind.model is Category and not item.archived:
        await set_archived(db, user, association, kind, item_id, True)  # refuses to delete the last category
    name = item.name
    await db.delete(item)
    await db.flush()
    await publish(db, AssociationChanged(association.id))
    return name


@dataclass
class Choices:
    """The catalog items offered in an entry form (archived ones only when the entry already uses them)."""

    categories: Sequence[Category]
    levels: Sequence[Level]
    projects: Sequence[Project]


async def entry_choices(db: AsyncSession, association: Association, keep: Sequence[int | None] = ()) -> Choices:
    """Active items of the association, plus the archived ones whose ids are in ``keep``."""
    kept = [i for i in keep if i is not None]

    async def load(model: type[CatalogItem]) -> list[Any]:
        offered = model.archived.is_(False) | model.id.in_(kept) if kept else model.archived.is_(False)
        rows = await db.scalars(
            select(model)
            .where(model.association_id == association.id, offered)
            .order_by(func.lower(model.name), model.id)
        )
        return list(rows.all())

    return Choices(categories=await load(Category), levels=await load(Level), projects=await load(Project))
