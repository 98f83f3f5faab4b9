"""An association's entries, for those who manage them: the queue with its filters, and decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from instance.models import TokenScope
from instance.models.entries import EntryStatus
from instance.services import moderation as service
from web.api.common import CURSOR, ENTRY_ID, FROM, HANDLE, LIMIT, TO, association_of, paging
from web.api.declare import Call, Endpoint, Example, Param
from web.api.entries import ORDER, entries_json, one_entry
from web.api.pagination import keyset_page
from web.api.schemas import ID, STATUSES, ref

TAG = "Moderation"


async def queue(call: Call) -> dict[str, Any]:
    association = await association_of(call)
    cursor, limit = paging(call)
    status = call.query.get("status", "pending")
    filters = service.QueueFilters(
        member=call.query.get("member"),
        project=call.query.get("project"),
        category=call.query.get("category"),
        status=None if status == "all" else EntryStatus(status),
        date_from=call.query.get("from"),
        date_to=call.query.get("to"),
    )
    query = await service.queue_query(call.db, call.user, association, filters)
    page = await keyset_page(call.db, query, ORDER, cursor, limit)
    return {"items": await entries_json(call.db, page.items), "next_cursor": page.next_cursor}


async def _decide_one(call: Call, approve: bool) -> dict[str, Any]:
    association = await association_of(call)
    reason = "" if approve else str(call.body.get("reason", ""))
    entry_id = int(call.path["entry_id"])
    entry = await service.decide_one(call.db, call.user, association, entry_id, approve, reason)
    await call.db.commit()
    return await one_entry(call.db, entry)


async def approve_entry(call: Call) -> dict[str, Any]:
    return await _decide_one(call, True)


async def reject_entry(call: Call) -> dict[str, Any]:
    return await _decide_one(call, False)


async def _decide_many(call: Call, approve: bool) -> dict[str, Any]:
    association = await association_of(call)
    reason = "" if approve else str(call.body.get("reason", ""))
    changed = await service.decide(call.db, call.user, association, call.body["ids"], approve, reason)
    await call.db.commit()
    return {"changed": sorted(e.id for e in changed)}


async def approve_entries(call: Call) -> dict[str, Any]:
    return await _decide_many(call, True)


async def reject_entries(call: Call) -> dict[str, Any]:
    return await _decide_many(call, False)


def _id_param(name: str, what: str) -> Param:
    return Param(name, ID, f"Only the entries of this {what} (id).")


QUEUE_PARAMS = (
    HANDLE,
    Param("status", {"enum": [*STATUSES, "all"], "default": "pending"}, "Which entries (default: pending)."),
    _id_param("member", "member"),
    _id_param("project", "project"),
    _id_param("category", "category"),
    FROM,
    TO,
    CURSOR,
    LIMIT,
)
REASON = {"type": "string", "maxLength": 5000, "description": "Why: the volunteer reads it to correct the entry."}
IDS = {"type": "array", "items": ID, "maxItems": 500}


def _body(reason: bool, ids: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if ids:
        properties["ids"] = IDS
    if reason:
        properties["reason"] = REASON
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


ENTRY = "/api/v1/associations/{handle}/entries"
endpoints = [
    Endpoint(
        "GET",
        ENTRY,
        queue,
        "The association's entries: the moderation queue and its filters",
        params=QUEUE_PARAMS,
        response=ref("EntryPage"),
        example=Example(query={"status": "pending", "from": (dt.date(2025, 1, 1)).isoformat()}),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        f"{ENTRY}/approve",
        approve_entries,
        "Approve several entries at once",
        TokenScope.WRITE,
        params=(HANDLE,),
        body=_body(reason=False, ids=True),
        response=ref("Decisions"),
        example=Example(body={"ids": [1, 2]}),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        f"{ENTRY}/reject",
        reject_entries,
        "Reject several entries at once, with a reason",
        TokenScope.WRITE,
        params=(HANDLE,),
        body=_body(reason=True, ids=True),
        response=ref("Decisions"),
        example=Example(body={"ids": [1, 2], "reason": "Please give the project."}),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        f"{ENTRY}/{{entry_id}}/approve",
        approve_entry,
        "Approve an entry",
        TokenScope.WRITE,
        params=(HANDLE, ENTRY_ID),
        response=ref("Entry"),
        errors=(409,),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        f"{ENTRY}/{{entry_id}}/reject",
        reject_entry,
        "Reject an entry, with a reason",
        TokenScope.WRITE,
        params=(HANDLE, ENTRY_ID),
        body=_body(reason=True, ids=False),
        response=ref("Entry"),
        errors=(409,),
        example=Example(body={"reason": "Please give the project."}),
        tag=TAG,
    ),
]
