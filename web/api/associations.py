"""Associations: the directory, a profile, joining and leaving, the members list and the catalog."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from federation.lookup import find_association
from federation.runtime import Federation
from instance.errors import ValidationError
from instance.models import Association, TokenScope
from instance.services import association_data
from instance.services import membership as members
from instance.services.access import membership_of
from instance.services.associations import directory_condition, member_count
from web.api import serialize
from web.api.common import CURSOR, HANDLE, LIMIT, association_of, paging
from web.api.declare import Call, Endpoint, Example, Param
from web.api.pagination import Keyset, keyset_page, list_page
from web.api.schemas import ref

TAG = "Associations"
DIRECTORY_ORDER = Keyset((Association.name_key, Association.id), (str, int), descending=False)


async def directory(call: Call) -> dict[str, Any]:
    cursor, limit = paging(call)
    condition = directory_condition(call.user, str(call.query.get("q", "")))
    query = select(Association).where(condition)
    if call.caller.token.association_id is not None:
        query = query.where(Association.id == call.caller.token.association_id)
    page = await keyset_page(call.db, query, DIRECTORY_ORDER, cursor, limit)
    items = [serialize.association_summary(a, call.instance) for a in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


async def association(call: Call) -> dict[str, Any]:
    found = await association_of(call)
    mine = await membership_of(call.db, call.user, found)
    return serialize.association(found, call.instance, await member_count(call.db, found), mine)


async def lookup(call: Call) -> dict[str, Any]:
    """An association of another instance, by its address: mirrored here, then joined like a local one."""
    federation: Federation = call.request.app.state.federation
    try:
        found = await find_association(call.db, federation.client, str(call.body.get("address", "")).strip())
    except ValidationError as error:  # the page's field is "target"; the API's is "address"
        raise ValidationError({"address": error.fields.get("target", error.message)}) from error
    await call.db.commit()
    mine = await membership_of(call.db, call.user, found)
    return serialize.association(found, call.instance, await member_count(call.db, found), mine)


async def join(call: Call) -> dict[str, Any]:
    found = await association_of(call)
    membership = await members.join(call.db, call.instance.settings, call.user, found, call.body.get("message", ""))
    await call.db.commit()
    return serialize.membership(membership)


async def leave(call: Call) -> None:
    found = await association_of(call)
    await members.leave(call.db, call.user, found)
    await call.db.commit()


async def member_list(call: Call) -> dict[str, Any]:
    found = await association_of(call)
    cursor, limit = paging(call)
    people = await members.list_members(call.db, call.user, found)
    status = call.query.get("status")
    if status:
        people = [m for m in people if str(m.status) == status]
    page = list_page(people, lambda m: m.id, cursor, limit)
    return {"items": [serialize.membership(m) for m in page.items], "next_cursor": page.next_cursor}


async def catalog(call: Call) -> dict[str, Any]:
    found = await association_of(call)
    items = await association_data.catalog(call.db, found)
    for level in items["levels"]:
        level["hourly_rate"] = serialize.decimal(level["hourly_rate"])
    return items


LOOKUP_BODY = {
    "type": "object",
    "properties": {
        "address": {
            "type": "string",
            "maxLength": 500,
            "description": "The association's handle (@name@host) or the address of its page on its instance.",
        }
    },
    "required": ["address"],
    "additionalProperties": False,
}
JOIN_BODY = {
    "type": "object",
    "properties": {"message": {"type": "string", "maxLength": 5000, "description": "A word to the managers."}},
    "additionalProperties": False,
}
Q = Param("q", {"type": "string", "maxLength": 200}, "Words searched in the name, handle, description, postal code.")
MEMBER_STATUS = Param("status", {"enum": ["pending", "active"]}, "Only active members, or only pending requests.")

endpoints = [
    Endpoint(
        "GET",
        "/api/v1/associations",
        directory,
        "The directory of associations, by name",
        params=(Q, CURSOR, LIMIT),
        response=ref("AssociationSummaryPage"),
        example=Example(query={"q": "restos"}),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        "/api/v1/associations/{handle}",
        association,
        "An association's profile, with my membership",
        params=(HANDLE,),
        response=ref("Association"),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/v1/associations/lookup",
        lookup,
        "Find an association of another instance by its address (then join it with its handle)",
        TokenScope.WRITE,
        body=LOOKUP_BODY,
        response=ref("Association"),
        example=Example(body={"address": "@restos@b.example"}),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/v1/associations/{handle}/join",
        join,
        "Join an association (or ask to, when it moderates membership)",
        TokenScope.WRITE,
        params=(HANDLE,),
        body=JOIN_BODY,
        response=ref("Membership"),
        status=201,
        errors=(409,),
        account=True,
        example=Example(body={"message": "Hello!"}),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/v1/associations/{handle}/leave",
        leave,
        "Leave an association (or withdraw my request)",
        TokenScope.WRITE,
        params=(HANDLE,),
        status=204,
        errors=(409,),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        "/api/v1/associations/{handle}/members",
        member_list,
        "Members and pending requests (for roles that list members)",
        params=(HANDLE, MEMBER_STATUS, CURSOR, LIMIT),
        response=ref("MembershipPage"),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        "/api/v1/associations/{handle}/catalog",
        catalog,
        "Categories, levels and projects (the ids an entry refers to)",
        params=(HANDLE,),
        response=ref("Catalog"),
        tag=TAG,
    ),
]
