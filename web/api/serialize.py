"""Rows as the JSON the API sends (the shapes are in ``schemas.py``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from instance.models import PERMISSIONS, Association, Membership, MembershipStatus, Notification, TimeEntry
from instance.runtime import Instance
from instance.services.entry_lists import Labels
from instance.services.notifications import text_of
from instance.services.report_filters import Period
from instance.services.statistics import Row


def stamp(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def decimal(value: Decimal | int | float | None) -> str:
    return f"{Decimal(str(value or 0)):.2f}"


def _reference(item_id: int | None, names: dict[int, str]) -> dict[str, Any] | None:
    if item_id is None:
        return None
    return {"id": item_id, "name": names.get(item_id, "")}


def entry(row: TimeEntry, labels: Labels, handles: dict[int, str] | None = None) -> dict[str, Any]:
    association = labels.associations.get(row.association_id)
    return {
        "id": row.id,
        "association": association.handle if association else "",
        "association_name": association.name if association else "",
        "member": (handles or {}).get(row.user_id) if row.user_id is not None else None,
        "participant": labels.person(row),
        "status": str(row.status),
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat() if row.end_date else None,
        "duration_minutes": row.duration_minutes,
        "distance_km": decimal(row.distance_km),
        "title": row.title,
        "description": row.description,
        "category": _reference(row.category_id, labels.categories),
        "level": _reference(row.level_id, labels.levels),
        "project": _reference(row.project_id, labels.projects),
        "rejection_reason": row.rejection_reason,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "decided_at": stamp(row.decided_at),
    }


def membership(row: Membership) -> dict[str, Any]:
    active = row.status == MembershipStatus.ACTIVE
    return {
        "id": row.id,
        "association": row.association.handle,
        "association_name": row.association.name,
        "member": row.user.handle,
        "member_name": row.user.public_name,
        "role": row.role.name,
        "status": str(row.status),
        "permissions": [p for p in PERMISSIONS if active and row.role.allows(p)],
        "message": row.message,
        "created_at": stamp(row.created_at),
    }


def association_summary(row: Association, instance: Instance) -> dict[str, Any]:
    return {
        "handle": row.handle,
        "name": row.name,
        "description": row.description,
        "postal_code": row.postal_code,
        "url": instance.url(f"/associations/{row.handle}"),
    }


def association(row: Association, instance: Instance, members: int, mine: Membership | None) -> dict[str, Any]:
    return {
        "handle": row.handle,
        "address": f"@{row.handle}" if row.actor_uri else f"@{row.handle}@{instance.settings.host}",
        "remote": row.actor_uri is not None,
        "name": row.name,
        "description": row.description,
        "website": row.website,
        "activity_fields": list(row.activity_fields or []),
        "postal_code": row.postal_code,
        "url": instance.url(f"/associations/{row.handle}"),
        "status": str(row.status),
        "moderate_membership": row.moderate_membership,
        "moderate_entries": row.moderate_entries,
        "members": members,
        "membership": membership(mine) if mine is not None else None,
    }


def notification(row: Notification, instance: Instance) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "text": text_of(row),
        "link": instance.url(row.link) if row.link.startswith("/") else row.link,
        "created_at": stamp(row.created_at),
        "read_at": stamp(row.read_at),
    }


def row(value: Row) -> dict[str, Any]:
    key = value.key
    if isinstance(key, tuple):
        key = f"{key[0]:04d}-{key[1]:02d}"
    return {
        "key": key,
        "label": value.label,
        "entries": value.entries,
        "volunteers": value.volunteers,
        "minutes": value.minutes,
        "km": decimal(value.km),
    }


def period(value: Period | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {"start": value.start.isoformat(), "end": value.end.isoformat()}
