"""The account: who I am, my profile, my memberships, my data archive, and deleting the account."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response, StreamingResponse

from instance.models import Association, TokenScope
from instance.services import account_settings, personal_data
from instance.services.membership import memberships_of_user
from instance.services.notifications import unread_count
from web.api import serialize
from web.api.common import CURSOR, LIMIT, paging
from web.api.declare import Call, Endpoint, Example
from web.api.pagination import list_page
from web.api.schemas import ref
from web.archives import archive_request

TAG = "Account"


async def me_json(call: Call) -> dict[str, Any]:
    user, token = call.user, call.caller.token
    limited = await call.db.get(Association, token.association_id) if token.association_id else None
    return {
        "id": user.id,
        "handle": user.handle,
        "address": f"@{user.handle}@{call.instance.settings.host}",
        "display_name": user.display_name,
        "pseudonym": user.pseudonym,
        "public_name": user.public_name,
        "email": user.email,
        "language": user.language,
        "created_at": serialize.stamp(user.created_at),
        "unread_notifications": await unread_count(call.db, user.id),
        "token": {"name": token.name, "scope": str(token.scope), "association": limited.handle if limited else None},
    }


async def get_me(call: Call) -> dict[str, Any]:
    return await me_json(call)


async def update_me(call: Call) -> dict[str, Any]:
    user = call.user
    await account_settings.update_profile(
        call.db,
        user,
        display_name=call.body.get("display_name", user.display_name),
        pseudonym=call.body.get("pseudonym", user.pseudonym),
        language=call.body.get("language", user.language),
    )
    await call.db.commit()
    return await me_json(call)


async def delete_me(call: Call) -> None:
    await account_settings.delete_account(call.db, call.user, call.body["password"], call.body["entries"])
    await call.db.commit()


async def my_memberships(call: Call) -> dict[str, Any]:
    cursor, limit = paging(call)
    rows = await memberships_of_user(call.db, call.user)
    limited = call.caller.token.association_id
    rows = [m for m in rows if limited is None or m.association_id == limited]
    page = list_page(rows, lambda m: m.id, cursor, limit)
    return {"items": [serialize.membership(m) for m in page.items], "next_cursor": page.next_cursor}


async def my_archive(call: Call) -> Response:
    user = call.user
    ask = await archive_request(call.instance, call.request.app.state.federation, user.id)
    name = personal_data.archive_name(user.handle)
    return StreamingResponse(
        personal_data.archive(call.instance.sessions, ask),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}.zip"', "Cache-Control": "no-store"},
    )


PROFILE_BODY = {
    "type": "object",
    "properties": {
        "display_name": {"type": "string", "maxLength": 500},
        "pseudonym": {"type": "string", "maxLength": 500},
        "language": {"enum": ["", "fr", "en"]},
    },
    "additionalProperties": False,
}
DELETE_BODY = {
    "type": "object",
    "properties": {
        "password": {"type": "string", "maxLength": 1000},
        "entries": {
            "enum": ["keep", "withdraw"],
            "description": "keep: the hours stay with each association under “former member”; withdraw: they "
            "no longer count.",
        },
    },
    "required": ["password", "entries"],
    "additionalProperties": False,
}

endpoints = [
    Endpoint("GET", "/api/v1/me", get_me, "Who the token belongs to", response=ref("Me"), tag=TAG),
    Endpoint(
        "PATCH",
        "/api/v1/me",
        update_me,
        "Change my name, pseudonym or language",
        TokenScope.WRITE,
        body=PROFILE_BODY,
        response=ref("Me"),
        account=True,
        example=Example(body={"pseudonym": "Lulu"}),
        tag=TAG,
    ),
    Endpoint(
        "DELETE",
        "/api/v1/me",
        delete_me,
        "Delete my account (asks the password and what becomes of my entries)",
        TokenScope.WRITE,
        body=DELETE_BODY,
        status=204,
        account=True,
        example=Example(body={"password": "(your password)", "entries": "keep"}),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        "/api/v1/me/memberships",
        my_memberships,
        "My memberships (active and requested)",
        params=(CURSOR, LIMIT),
        response=ref("MembershipPage"),
        tag=TAG,
    ),
    Endpoint(
        "GET",
        "/api/v1/me/archive",
        my_archive,
        "Everything about me, as a ZIP archive",
        media_type="application/zip",
        account=True,
        tag=TAG,
        description="profile.json, memberships.json, entries.json, entries.csv and notifications.json.",
    ),
]
