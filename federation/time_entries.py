"""``TimeEntry`` objects on the wire (PROTOCOL.md "Time entries") and the activities that carry them.

Dates: an entry has a start date and an optional end date; ``startTime`` and ``endTime`` are midnight of those
dates in France. ``updated`` is the entry's version: written with microseconds, it grows with every edit, and an
answer (``Accept`` or ``Reject``) embeds the entry as the association read it, so the volunteer's instance can
tell an answer to the current version from a late answer to an older one.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from federation import urls
from federation.activities import new_id
from federation.actors import OBJECT_CONTEXT
from federation.jsonld import first_id, id_of
from instance.models import Association, TimeEntry, User
from instance.settings import Settings

PARIS = ZoneInfo("Europe/Paris")
DURATION_RE = re.compile(r"^P(?:(\d{1,4})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,7})M)?(?:(\d{1,9})(?:\.\d+)?S)?)?$")
MAX_REASON = 2000


def timestamp(value: dt.datetime) -> str:
    """An instant as written on the wire: UTC, microseconds, ``Z``."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


def day_start(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(0), PARIS).isoformat()


def parse_day(value: Any) -> dt.date | None:
    """The date in France of a ``startTime``/``endTime`` (a date alone is read as that date)."""
    if not isinstance(value, str):
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp.astimezone(PARIS).date() if stamp.tzinfo is not None else stamp.date()


def duration_text(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours and not rest:
        return "PT0M"
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest else "")


def parse_duration(value: Any) -> int | None:
    """Minutes of an ``xsd:duration`` of days, hours, minutes and seconds (seconds are dropped); None if not one."""
    if not isinstance(value, str) or value in ("P", "PT") or value.endswith("T"):
        return None
    match = DURATION_RE.match(value)
    if match is None:
        return None
    days, hours, minutes, _seconds = (int(part or 0) for part in match.groups())
    return days * 24 * 60 + hours * 60 + minutes


def entry_object(
    settings: Settings, entry: TimeEntry, user: User, association: Association, refs: dict[str, str]
) -> dict[str, Any]:
    """A local volunteer's entry as sent to its association (or as the association's record of it). ``refs``
    maps ``category``, ``level`` and ``context`` to the ids of the association's catalog objects."""
    actor = urls.user_actor(settings, user.handle)
    audience = association.actor_uri or urls.association_actor(settings, association.handle)
    document: dict[str, Any] = {
        "id": urls.entry(settings, entry.id),
        "type": "TimeEntry",
        "attributedTo": actor,
        "to": [audience],
        "audience": audience,
        "name": entry.title,
        "content": entry.description,
        "startTime": day_start(entry.start_date),
        "duration": duration_text(entry.duration_minutes),
        "distance": float(entry.distance_km),
        "published": timestamp(entry.created_at),
        "updated": timestamp(entry.updated_at),
    }
    if entry.end_date is not None:
        document["endTime"] = day_start(entry.end_date)
    document.update(refs)
    return document


def activity(kind: str, actor: str, recipient: str, target: dict[str, Any] | str, **extra: Any) -> dict[str, Any]:
    """``Create``, ``Update``, ``Delete``, ``Accept`` or ``Reject`` of an entry, addressed to ``recipient``."""
    return {
        "@context": OBJECT_CONTEXT,
        "id": new_id(actor),
        "type": kind,
        "actor": actor,
        "to": [recipient],
        "object": target,
        **extra,
    }


def form_values(document: dict[str, Any], catalog_ids: dict[str, str]) -> dict[str, str]:
    """The entry form's values for a received ``TimeEntry``, so that it is checked exactly like a local entry.

    ``catalog_ids`` maps ``category``, ``level`` and ``project`` to local ids (as text) already resolved from
    the object's IRIs; an IRI that names nothing of the association is given as ``x``, which the form refuses.
    """
    minutes = parse_duration(document.get("duration"))
    start = parse_day(document.get("startTime"))
    end = parse_day(document.get("endTime")) if document.get("endTime") is not None else None
    distance = document.get("distance", 0)
    try:
        distance_text = str(Decimal(str(distance))) if isinstance(distance, int | float | str) else "x"
    except InvalidOperation:
        distance_text = "x"
    name = document.get("name")
    content = document.get("content")
    return {
        "start_date": start.isoformat() if start else "x",
        "end_date": end.isoformat() if end else ("x" if document.get("endTime") is not None else ""),
        "duration": "other",
        "hours": str(minutes // 60) if minutes is not None else "x",
        "minutes": str(minutes % 60) if minutes is not None else "x",
        "title": name if isinstance(name, str) else "",
        "description": content if isinstance(content, str) else "",
        "distance": distance_text,
        **catalog_ids,
    }


def catalog_refs(document: dict[str, Any]) -> dict[str, str | None]:
    """The catalog IRIs an entry names: ``category``, ``level`` and ``project`` (its ``context``)."""
    return {
        "category": first_id(document.get("category")),
        "level": first_id(document.get("level")),
        "project": first_id(document.get("context")),
    }


def audience_of(document: dict[str, Any]) -> str | None:
    return first_id(document.get("audience"))


def author_of(document: dict[str, Any]) -> str | None:
    return first_id(document.get("attributedTo"))


def local_catalog_id(settings: Settings, handle: str, kind: str, iri: str | None) -> str:
    """The local id (as text) that a catalog IRI of the association ``handle`` names; ``x`` if none."""
    if not iri:
        return ""
    prefix = urls.catalog_item(settings, handle, kind, 0)[:-1]
    rest = iri[len(prefix) :] if iri.startswith(prefix) else ""
    return rest if rest.isascii() and rest.isdecimal() and len(rest) <= 18 else "x"


def embedded(document: Any) -> dict[str, Any] | None:
    """The object of an activity when it is embedded (not only an IRI)."""
    return document if isinstance(document, dict) and id_of(document) else None


def is_local_entry(settings: Settings, iri: str | None) -> int | None:
    """The id of a local entry named by ``iri``, else None."""
    prefix = urls.entry(settings, 0)[:-1]
    number = iri[len(prefix) :] if iri and iri.startswith(prefix) else ""
    if not (number.isascii() and number.isdecimal()) or len(number) > 18:  # an id that fits a database integer
        return None
    return int(number)
