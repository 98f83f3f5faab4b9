"""My time entries: list with filters, log, read, edit, withdraw, and export them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from instance.errors import NotFound, ValidationError
from instance.i18n import lazy_gettext
from instance.models import Association, TimeEntry, TokenScope, User
from instance.services import entries as service
from instance.services.access import visible_association
from instance.services.entry_lists import OwnFilters, labels_for, own_entries_query
from instance.services.report_filters import EntryFilter
from web.api import serialize
from web.api.common import CURSOR, ENTRY_ID, FROM, LIMIT, TO, paging
from web.api.declare import Call, Endpoint, Example, Param
from web.api.exports import EXPORT_PARAMS, csv_download, export_values
from web.api.pagination import Keyset, keyset_page
from web.api.schemas import STATUSES, entry_body, ref

TAG = "My entries"
ORDER = Keyset((TimeEntry.start_date, TimeEntry.id), (dt.date, int))
T = TypeVar("T")

# API field names for the names the entry form (and so the service's errors) uses
FIELD_NAMES = {
    "duration": "duration_minutes",
    "hours": "duration_minutes",
    "minutes": "duration_minutes",
    "distance": "distance_km",
    "category": "category_id",
    "level": "level_id",
    "project": "project_id",
}


def form_values(body: Mapping[str, Any], base: Mapping[str, str]) -> dict[str, str]:
    """The entry form's values for a JSON body, over ``base`` (the current values when editing)."""
    values = dict(base)
    for name in ("start_date", "end_date", "title", "description"):
        if name in body:
            values[name] = str(body[name] or "")
    if "duration_minutes" in body:
        minutes = int(body["duration_minutes"])
        values.update(duration="other", hours=str(minutes // 60), minutes=str(minutes % 60))
    if "distance_km" in body:
        values["distance"] = str(body["distance_km"])
    for name in ("category", "level", "project"):
        if f"{name}_id" in body:
            values[name] = str(body[f"{name}_id"] or "")
    return values


async def renamed(action: Awaitable[T]) -> T:
    """Run a service call, naming the fields of its validation errors as the API does."""
    try:
        return await action
    except ValidationError as error:
        fields = {FIELD_NAMES.get(k, k): v for k, v in error.fields.items()}
        raise ValidationError(fields, error.message) from error


async def handles_of(db: AsyncSession, rows: Sequence[TimeEntry]) -> dict[int, str]:
    ids = {r.user_id for r in rows if r.user_id is not None}
    if not ids:
        return {}
    return {int(i): str(h) for i, h in (await db.execute(select(User.id, User.handle).where(User.id.in_(ids)))).all()}


async def entries_json(db: AsyncSession, rows: Sequence[TimeEntry]) -> list[dict[str, Any]]:
    labels = await labels_for(db, rows)
    handles = await handles_of(db, rows)
    return [serialize.entry(r, labels, handles) for r in rows]


async def one_entry(db: AsyncSession, row: TimeEntry) -> dict[str, Any]:
    return (await entries_json(db, [row]))[0]


async def token_association(call: Call) -> Association | None:
    limited = call.caller.token.association_id
    return await call.db.get(Association, limited) if limited is not None else None


async def list_mine(call: Call) -> dict[str, Any]:
    cursor, limit = paging(call)
    limited = await token_association(call)
    handle = str(call.query.get("association", "")).lower()
    if limited is not None:
        handle = limited.handle if handle in ("", limited.handle) else "-"
    status = call.query.get("status")
    filters = OwnFilters(handle, status, call.query.get("from"), call.query.get("to"))
    page = await keyset_page(call.db, own_entries_query(call.user, filters), ORDER, cursor, limit)
    return {"items": await entries_json(call.db, page.items), "next_cursor": page.next_cursor}


async def create_mine(call: Call) -> dict[str, Any]:
    try:
        association = await visible_association(call.db, str(call.body["association"]), call.user)
    except NotFound:
        raise ValidationError({"association": lazy_gettext("There is no association with this handle.")}) from None
    call.caller.require_association(association)
    category = await service.default_category(call.db, call.user, association)
    values = form_values(call.body, {"start_date": service.today().isoformat(), "category": str(category or "")})
    base_url = call.instance.settings.base_url
    entry = await renamed(service.create_entry(call.db, base_url, call.user, association, values))
    await call.db.commit()
    return await one_entry(call.db, entry)


async def _mine(call: Call) -> TimeEntry:
    entry = await service.own_entry(call.db, call.user, int(call.path["entry_id"]))
    limited = call.caller.token.association_id
    if limited is not None and entry.association_id != limited:
        association = await call.db.get(Association, entry.association_id)
        assert association is not None
        call.caller.require_association(association)
    return entry


async def get_mine(call: Call) -> dict[str, Any]:
    return await one_entry(call.db, await _mine(call))


async def update_mine(call: Call) -> dict[str, Any]:
    entry = await _mine(call)
    values = form_values(call.body, service.entry_values(entry))
    base_url = call.instance.settings.base_url
    entry = await renamed(service.update_entry(call.db, base_url, call.user, entry.id, values))
    await call.db.commit()
    return await one_entry(call.db, entry)


async def withdraw_mine(call: Call) -> dict[str, Any]:
    entry = await _mine(call)
    entry = await service.withdraw_entry(call.db, call.user, entry.id)
    await call.db.commit()
    return await one_entry(call.db, entry)


async def export_mine(call: Call) -> Any:
    call.caller.require_account()
    filters = EntryFilter.for_export(export_values(call), service.today(), "all", user_id=call.user.id)
    return csv_download(call, filters, None, f"benevalibre-{call.user.handle}")


MINE_PARAMS = (
    Param("association", {"type": "string", "maxLength": 64}, "Only the entries of this association (handle)."),
    Param("status", {"enum": STATUSES}, "Only entries with this status."),
    FROM,
    TO,
    CURSOR,
    LIMIT,
)
EXAMPLE_ENTRY = {
    "association": "restos",
    "start_date": "2025-03-08",
    "duration_minutes": 60,
    "title": "Sorting donations",
    "category_id": 1,
}
endpoints = [
    Endpoint(
        "GET",
        "/api/v1/me/entries",
        list_mine,
        "My entries, newest first",
        params=MINE_PARAMS,
        response=ref("EntryPage"),
        example=Example(query={"status": "pending"}),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/v1/me/entries",
        create_mine,
        "Log time",
        TokenScope.WRITE,
        body=entry_body(create=True),
        response=ref("Entry"),
        status=201,
        example=Example(body=EXAMPLE_ENTRY),
        tag=TAG,
        description=(
            "The duration is in minutes; it may be 0 only with a distance. Without start_date, today; without "
            "category_id, the category I used last in this association."
        ),
    ),
    Endpoint(
        "GET",
        "/api/v1/me/entries.csv",
        export_mine,
        "My entries as a CSV file",
        params=EXPORT_PARAMS,
        media_type="text/csv",
        account=True,
        tag=TAG,
    ),
    Endpoint(
        "GET",
        "/api/v1/me/entries/{entry_id}",
        get_mine,
        "One of my entries",
        params=(ENTRY_ID,),
        response=ref("Entry"),
        tag=TAG,
    ),
    Endpoint(
        "PATCH",
        "/api/v1/me/entries/{entry_id}",
        update_mine,
        "Edit one of my entries (it waits for approval again where the association moderates)",
        TokenScope.WRITE,
        params=(ENTRY_ID,),
        body=entry_body(create=False),
        response=ref("Entry"),
        errors=(409,),
        example=Example(body={"title": "Sorting donations and clothes"}),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/v1/me/entries/{entry_id}/withdraw",
        withdraw_mine,
        "Withdraw one of my entries: it no longer counts",
        TokenScope.WRITE,
        params=(ENTRY_ID,),
        response=ref("Entry"),
        tag=TAG,
    ),
]
