"""Associations of other instances (``/follows``): find one by its handle or address, see it, join it.

Finding an association makes a local mirror of it (``federation.mirrors``) with a copy of its catalog; its page
is then the usual association page, where a volunteer joins, logs time and leaves as for a local association.
The page also lists the volunteer's memberships in remote associations and the remote associations known here.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from federation.lookup import find_association
from federation.runtime import Federation
from instance.errors import ValidationError
from instance.models import Association, Membership, User
from web.auth import require_user
from web.csrf import read_form
from web.forms import Form
from web.templating import render

DIRECTORY_SIZE = 100


def _federation(request: Request) -> Federation:
    found: Federation = request.app.state.federation
    return found


async def _page(request: Request, user: User, form: Form, status_code: int = 200) -> Response:
    async with _federation(request).sessions() as db:
        mine = await db.scalars(
            select(Membership)
            .join(Association, Association.id == Membership.association_id)
            .where(Membership.user_id == user.id, Association.actor_uri.is_not(None))
            .order_by(Association.name)
        )
        known = await db.scalars(
            select(Association)
            .where(Association.actor_uri.is_not(None))
            .order_by(Association.name)
            .limit(DIRECTORY_SIZE)
        )
        context = {"form": form, "memberships": list(mine.unique()), "known": list(known)}
    return render(request, "follows/index.html", context, status_code)


async def follows_page(request: Request) -> Response:
    user = require_user(request)
    if request.method == "GET":
        return await _page(request, user, Form())
    form = Form.from_data(await read_form(request))
    federation = _federation(request)
    async with federation.sessions() as db:
        try:
            association = await find_association(db, federation.client, form.text("target"))
        except ValidationError as error:
            return await _page(request, user, form.fail(error), 400)
        await db.commit()
    target = request.app.url_path_for("association", handle=association.handle)
    return RedirectResponse(str(target), status_code=303)


routes: list[BaseRoute] = [Route("/follows", follows_page, methods=["GET", "POST"], name="follows")]
