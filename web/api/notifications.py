"""My notifications: the list, and marking them read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from instance.models import Notification, TokenScope
from instance.services import notifications as service
from web.api import serialize
from web.api.common import CURSOR, LIMIT, paging
from web.api.declare import Call, Endpoint, Example, Param
from web.api.pagination import Keyset, keyset_page
from web.api.schemas import ID, ref

TAG = "Notifications"
ORDER = Keyset((Notification.created_at, Notification.id), (dt.datetime, int))


async def list_notifications(call: Call) -> dict[str, Any]:
    cursor, limit = paging(call)
    query = service.notifications_query(call.user, unread_only=bool(call.query.get("unread")))
    page = await keyset_page(call.db, query, ORDER, cursor, limit)
    return {"items": [serialize.notification(n, call.instance) for n in page.items], "next_cursor": page.next_cursor}


async def mark_read(call: Call) -> dict[str, Any]:
    ids = call.body.get("ids")
    marked = await service.mark_read(call.db, call.user, ids)
    await call.db.commit()
    return {"marked": marked, "unread": await service.unread_count(call.db, call.user.id)}


READ_BODY = {
    "type": "object",
    "properties": {
        "ids": {
            "type": "array",
            "items": ID,
            "maxItems": 500,
            "description": "The notifications to mark; all of them when left out.",
        }
    },
    "additionalProperties": False,
}

endpoints = [
    Endpoint(
        "GET",
        "/api/v1/me/notifications",
        list_notifications,
        "My notifications, newest first",
        params=(Param("unread", {"type": "boolean"}, "Only those not read yet."), CURSOR, LIMIT),
        response=ref("NotificationPage"),
        account=True,
        example=Example(query={"unread": "true"}),
        tag=TAG,
    ),
    Endpoint(
        "POST",
        "/api/v1/me/notifications/read",
        mark_read,
        "Mark notifications as read (all of them, or those listed)",
        TokenScope.WRITE,
        body=READ_BODY,
        response=ref("ReadCount"),
        account=True,
        example=Example(body={}),
        tag=TAG,
    ),
]
