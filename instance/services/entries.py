"""Time entries as volunteers log them: checks, creation, edits and withdrawal.

An entry is withdrawn rather than deleted: the row stays (with the status ``withdrawn``) so that totals can be
explained and federation can later answer for it with a Tombstone. Withdrawn entries can no longer be edited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import Conflict, NotFound, ValidationError
from instance.events import EntryChanged, publish
from instance.i18n import lazy_gettext
from instance.models import Association, Category, Level, Project, TimeEntry, User, utcnow
from instance.models.entries import EntryStatus
from instance.services.access import require_member
from instance.services.catalog import CatalogItem
from instance.services.entry_notices import notify_pending

PARIS = ZoneInfo("Europe/Paris")
PRESETS = {"30": 30, "60": 60, "120": 120, "210": 210}  # the duration buttons of the form, in minutes
MAX_TITLE = 127
MAX_DESCRIPTION = 5000
MAX_DISTANCE = Decimal("10000")
MINUTES_PER_DAY = 24 * 60


def today() -> dt.date:
    """Today's date where the associations are (France): an entry may not start after it."""
    return dt.datetime.now(PARIS).date()


@dataclass
class EntryData:
    """Checked values of an entry form."""

    start_date: dt.date
    end_date: dt.date | None
    duration_minutes: int
    title: str
    description: str
    category_id: int
    level_id: int | None
    project_id: int | None
    distance_km: Decimal


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _parse_int(text: str) -> int | None:
    text = text.strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        return None


def _check_dates(values: Mapping[str, str], errors: dict[str, object]) -> tuple[dt.date, dt.date | None]:
    start = _parse_date(values.get("start_date", ""))
    end_text = values.get("end_date", "").strip()
    end = _parse_date(end_text) if end_text else None
    if start is None:
        errors["start_date"] = lazy_gettext("Please give the date, such as 2026-03-08.")
    elif start > today():
        errors["start_date"] = lazy_gettext("The date cannot be in the future.")
    if end_text and end is None:
        errors["end_date"] = lazy_gettext("Please give a valid end date, or leave it empty.")
    elif end is not None and end > today():
        errors["end_date"] = lazy_gettext("The end date cannot be in the future.")
    elif end is not None and start is not None and end < start:
        errors["end_date"] = lazy_gettext("The end date cannot be before the start date.")
    return start or today(), (end if end != start else None)


def _check_duration(values: Mapping[str, str], errors: dict[str, object]) -> int:
    preset = values.get("duration", "").strip()
    if preset in PRESETS:
        return PRESETS[preset]
    hours, minutes = _parse_int(values.get("hours", "")), _parse_int(values.get("minutes", ""))
    if hours is None or minutes is None:
        errors["duration"] = lazy_gettext("Please give the duration in whole hours and minutes.")
        return 0
    if hours < 0 or minutes < 0:
        errors["duration"] = lazy_gettext("The duration cannot be negative.")
        return 0
    if minutes > 59:
        errors["duration"] = lazy_gettext("Minutes go from 0 to 59.")
        return 0
    return hours * 60 + minutes


def _check_distance(values: Mapping[str, str], errors: dict[str, object]) -> Decimal:
    text = values.get("distance", "").strip().replace(",", ".")
    if not text:
        return Decimal("0")
    try:
        distance = Decimal(text)
    except InvalidOperation:
        distance = Decimal("NaN")
    if not distance.is_finite():
        errors["distance"] = lazy_gettext("Please give the distance in kilometres, such as 12.5.")
    elif distance < 0 or distance > MAX_DISTANCE:
        errors["distance"] = lazy_gettext("The distance must be between 0 and 10,000 km.")
    elif distance != distance.quantize(Decimal("0.01")):
        errors["distance"] = lazy_gettext("The distance can have at most two decimals.")
    else:
        return distance
    return Decimal("0")


async def _check_item(
    db: AsyncSession,
    association: Association,
    model: type[CatalogItem],
    text: str,
    current: int | None,
) -> int | None:
    """The id of a catalog item of this association that may be used; ValueError otherwise."""
    if not text.strip():
        return None
    try:
        item_id = int(text)
    except ValueError as error:
        raise ValueError("not a number") from error
    item = cast(CatalogItem | None, await db.get(model, item_id))
    if item is None or item.association_id != association.id:
        raise ValueError("not of this association")
    if item.archived and item.id != current:
        raise LookupError("archived")
    return item.id


async def clean_entry(
    db: AsyncSession, association: Association, values: Mapping[str, str], current: TimeEntry | None = None
) -> EntryData:
    """Check an entry form for ``association``; ValidationError with a message per wrong field."""
    errors: dict[str, object] = {}
    start, end = _check_dates(values, errors)
    minutes = _check_duration(values, errors)
    distance = _check_distance(values, errors)
    if "duration" not in errors and "distance" not in errors:
        days = ((end or start) - start).days + 1
        if minutes == 0 and distance == 0:
            errors["duration"] = lazy_gettext("Please give a duration (it can be zero only for a journey).")
        elif minutes > days * MINUTES_PER_DAY:
            errors["duration"] = lazy_gettext("A day has only 24 hours: the duration is too long for these dates.")
    title = " ".join(values.get("title", "").split())
    if not title:
        errors["title"] = lazy_gettext("Please give a short title, such as “Sorting donations”.")
    elif len(title) > MAX_TITLE:
        errors["title"] = lazy_gettext("The title can have at most 127 characters.")
    description = values.get("description", "").strip()
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = lazy_gettext("Use at most %(n)s characters.", n=MAX_DESCRIPTION)
    refs: dict[str, int | None] = {}
    for field, model in (("category", Category), ("level", Level), ("project", Project)):
        kept = getattr(current, f"{field}_id") if current is not None else None
        try:
            refs[field] = await _check_item(db, association, model, values.get(field, ""), kept)
        except LookupError:
            errors[field] = lazy_gettext("This choice is archived: please pick another one.")
        except ValueError:
            errors[field] = lazy_gettext("Please pick one of the choices of this association.")
    if "category" not in errors and refs.get("category") is None:
        errors["category"] = lazy_gettext("Please choose a category.")
    if errors:
        raise ValidationError(errors)
    return EntryData(
        start_date=start,
        end_date=end,
        duration_minutes=minutes,
        title=title,
        description=description,
        category_id=refs["category"] or 0,
        level_id=refs["level"],
        project_id=refs["project"],
        distance_km=distance,
    )


def _apply(entry: TimeEntry, data: EntryData) -> None:
    for key, value in vars(data).items():
        setattr(entry, key, value)
    entry.updated_at = utcnow()


def initial_status(association: Association) -> EntryStatus:
    """Pending when the association moderates entries, or is on another instance (which answers)."""
    return EntryStatus.PENDING if association.moderate_entries or association.is_remote else EntryStatus.APPROVED


async def add_entry(
    db: AsyncSession,
    association: Association,
    data: EntryData,
    base_url: str,
    status: EntryStatus | None = None,
    **fields: Any,
) -> TimeEntry:
    """Store a checked entry (with the association's initial status unless ``status`` is given) and tell the
    managers when it waits for them."""
    entry = TimeEntry(association_id=association.id, status=status or initial_status(association), **fields)
    _apply(entry, data)
    if entry.status == EntryStatus.APPROVED:
        entry.decided_at = utcnow()
    db.add(entry)
    await db.flush()
    if entry.status == EntryStatus.PENDING:
        await notify_pending(db, association, entry, base_url)
    return entry


async def create_entry(
    db: AsyncSession, base_url: str, user: User, association: Association, values: Mapping[str, str]
) -> TimeEntry:
    """A member logs their own time; remembered as their last association for the next form."""
    await require_member(db, user, association)
    data = await clean_entry(db, association, values)
    entry = await add_entry(db, association, data, base_url, user_id=user.id)
    person = await db.get(User, user.id)
    if person is not None:
        person.last_association_id = association.id
    await db.flush()
    if association.is_remote:
        await publish(db, EntryChanged(entry.id, "create"))
    return entry


async def own_entry(db: AsyncSession, user: User, entry_id: int) -> TimeEntry:
    """One of the person's own entries; NotFound for anyone else's (their existence is not revealed)."""
    entry = await db.get(TimeEntry, entry_id)
    if entry is None or entry.user_id != user.id:
        raise NotFound(lazy_gettext("This entry does not exist."))
    return entry


async def update_entry(
    db: AsyncSession, base_url: str, user: User, entry_id: int, values: Mapping[str, str]
) -> TimeEntry:
    """Edit one's entry; when the association moderates, a decided entry waits for approval again."""
    entry = await own_entry(db, user, entry_id)
    if entry.status == EntryStatus.WITHDRAWN:
        raise Conflict(lazy_gettext("This entry was withdrawn; it can no longer be changed."))
    association = await db.get(Association, entry.association_id)
    assert association is not None
    await require_member(db, user, association)
    data = await clean_entry(db, association, values, current=entry)
    _apply(entry, data)
    entry.status = initial_status(association)
    entry.rejection_reason = ""
    entry.decided_at = utcnow() if entry.status == EntryStatus.APPROVED else None
    entry.decided_by_id = None
    entry.accept_record = None
    await db.flush()
    if association.is_remote:
        await publish(db, EntryChanged(entry.id, "update"))
    elif entry.status == EntryStatus.PENDING:
        await notify_pending(db, association, entry, base_url)
    return entry


async def withdraw_entry(db: AsyncSession, user: User, entry_id: int) -> TimeEntry:
    """Withdraw one's entry: it no longer counts, but the row stays."""
    entry = await own_entry(db, user, entry_id)
    if entry.status != EntryStatus.WITHDRAWN:
        entry.status = EntryStatus.WITHDRAWN
        entry.updated_at = utcnow()
        entry.accept_record = None
        await db.flush()
        association = await db.get(Association, entry.association_id)
        if association is not None and association.is_remote:
            await publish(db, EntryChanged(entry.id, "delete"))
    return entry


def entry_values(entry: TimeEntry, *, same_date: bool = True) -> dict[str, str]:
    """The form values that show ``entry`` (for editing it, or repeating it today)."""
    minutes = entry.duration_minutes
    preset = next((key for key, value in PRESETS.items() if value == minutes), "other")
    return {
        "start_date": (entry.start_date if same_date else today()).isoformat(),
        "end_date": entry.end_date.isoformat() if same_date and entry.end_date else "",
        "duration": preset,
        "hours": str(minutes // 60) if preset == "other" else "",
        "minutes": str(minutes % 60) if preset == "other" else "",
        "title": entry.title,
        "description": entry.description,
        "category": str(entry.category_id),
        "level": str(entry.level_id or ""),
        "project": str(entry.project_id or ""),
        "distance": f"{entry.distance_km:.2f}" if entry.distance_km else "",
    }


async def last_entry(db: AsyncSession, user: User, association: Association | None = None) -> TimeEntry | None:
    """The person's most recently created entry (in ``association`` when given)."""
    query = select(TimeEntry).where(TimeEntry.user_id == user.id)
    if association is not None:
        query = query.where(TimeEntry.association_id == association.id)
    return await db.scalar(query.order_by(TimeEntry.created_at.desc(), TimeEntry.id.desc()).limit(1))


async def default_category(db: AsyncSession, user: User, association: Association) -> int | None:
    """The category the person used last in this association if still active, else the first active one."""
    last = await db.scalar(
        select(TimeEntry.category_id)
        .join(Category, Category.id == TimeEntry.category_id)
        .where(TimeEntry.user_id == user.id, TimeEntry.association_id == association.id, Category.archived.is_(False))
        .order_by(TimeEntry.created_at.desc(), TimeEntry.id.desc())
        .limit(1)
    )
    if last is not None:
        return last
    return await db.scalar(
        select(Category.id)
        .where(Category.association_id == association.id, Category.archived.is_(False))
        .order_by(func.lower(Category.name), Category.id)
        .limit(1)
    )
