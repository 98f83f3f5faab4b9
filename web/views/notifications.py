"""The person's notifications: what happened to their memberships, entries and associations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from instance.services import notifications
from web.auth import require_user
from web.csrf import read_form
from web.templating import render


async def notifications_page(request: Request) -> Response:
    user = require_user(request)
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    async with request.app.state.instance.sessions() as db:
        rows, more = await notifications.recent(db, user, page)
    items = [(row, notifications.text_of(row)) for row in rows]
    return render(request, "notifications.html", {"items": items, "page": page, "more": more})


async def mark_read(request: Request) -> Response:
    user = require_user(request)
    await read_form(request)
    async with request.app.state.instance.sessions() as db:
        await notifications.mark_all_read(db, user)
        await db.commit()
    return RedirectResponse(str(request.app.url_path_for("notifications")), status_code=303)


routes: list[BaseRoute] = [
    Route("/notifications", notifications_page, name="notifications"),
    Route("/notifications/read", mark_read, methods=["POST"], name="notifications_read"),
]
